"""Payments through pluggable providers: offline/cash and a signed sandbox (see docs/sales.md)."""
