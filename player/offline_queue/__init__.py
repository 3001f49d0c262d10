"""Local SQLite: answer journal, checkpoints, outbox and uploader."""
