"""The ASGI app built from the environment's settings: ``uvicorn server.asgi:app``."""

from __future__ import annotations

from server.app import create_app

app = create_app()
