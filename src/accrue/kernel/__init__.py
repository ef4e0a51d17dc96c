"""Shared pure rules every area uses: money, rounding, calendar, ids, clock, paging, errors.

Imports nothing from grpc, connectrpc, SQLAlchemy, generated code, the platform or any area."""
