"""`admit demo`: an embedded broker, the server on SQLite and simulated kiosks on one machine."""
