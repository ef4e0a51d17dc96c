"""Tenancy: tenants and their API keys."""
