"""Qt widgets: thin views over the session, the queue and the client."""
