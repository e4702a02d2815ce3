"""Use-case functions shared by the chat handlers, the CLI and the console. They take a Session
and never commit on their own: the caller owns the transaction."""
