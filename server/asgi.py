"""The ASGI app built from the environment's settings: ``uvicorn server.asgi:app``."""

from __future__ import annotations

from server.app import create_app

#: The server process's app: it freezes its start-up objects for the garbage collector, so full
#: collections while serving stay short (see server.process.freeze_startup_objects).
app = create_app(freeze_gc=True)
