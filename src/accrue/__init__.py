"""Accrue: a contract-first billing platform."""

__version__ = "0.1.0"
