"""Catalog: products and prices, their use cases, tables and handlers."""
