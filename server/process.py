"""How a server process is tuned for serving, once it has started: the app's lifespan does it
(:mod:`server.app`), and so does anything that stands in for a server process, such as
``bench/ingest.py``'s bridge processes, so that what it measures is what ``admit server`` runs.

Both settings are process-wide, which is why tests that build many apps do not apply them.
"""

from __future__ import annotations

import gc
import sys

#: Seconds a thread runs before it must offer the GIL to another (Python's default: 0.005).
GIL_SWITCH_INTERVAL_S = 0.0005


def shorten_gil_switch_interval() -> None:
    """A request hops between the event loop and worker threads several times, and the MQTT
    bridge hands messages between its network and ingest threads; with Python's default 5 ms
    switch interval each hand-over can wait that long for the GIL."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def freeze_startup_objects() -> None:
    """Move everything built at start-up (modules, the app, SQLAlchemy's mappers: some 165,000
    objects) out of the cyclic garbage collector's reach. A full collection walks every tracked
    object, 125-145 ms on the first machine, and one ran about every 20 s of check-ins at
    150/s: a pause that lands on every request in flight (the p99). In the MQTT bridge the
    same collections cost a third of the CPU of storing a batch of scans on PostgreSQL.
    Frozen objects are still freed by reference counting; only cycles among them would stay,
    which is why only server processes freeze, not tests that build many apps."""
    gc.collect()
    gc.freeze()
