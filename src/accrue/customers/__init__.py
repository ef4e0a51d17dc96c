"""Customers: customers and their payment methods (PSP tokens only)."""
