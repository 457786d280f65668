"""Carts, orders, stock reservation, expiry, approval and refunds (see docs/sales.md)."""
