"""Pure billing rules. Imports nothing from grpc, connectrpc, SQLAlchemy or generated code."""
