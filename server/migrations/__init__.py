"""Alembic migrations of the server's database (see :mod:`server.migrate`)."""
