"""Conversions between generated messages and domain objects."""
