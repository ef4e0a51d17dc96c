"""Shared machinery every entry point uses: metrics, health, trace sampling."""
