"""Adapters: persistence, clocks and (later) PSP gateways and event publishers."""
