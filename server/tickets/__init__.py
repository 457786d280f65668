"""Tickets: issuance from paid orders, signing keys, verification codes, QR images."""
