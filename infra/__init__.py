"""Connections to what the service runs on: the database and Redis."""
