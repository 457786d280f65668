"""Check-in: the append-only log of every admission attempt, checker and back-office APIs,
gate scans from the fleet, records and per-checker statistics."""
