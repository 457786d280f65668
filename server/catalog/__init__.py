"""Venues, zones, events and ticket types: what a merchant sells (see docs/sales.md)."""
