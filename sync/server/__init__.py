"""The small central server: API, store, domain rules, marking and CLI."""
