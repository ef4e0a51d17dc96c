"""Transports: gRPC and Connect servers over one route table, the call pipeline,
request checks, page-token sealing and the conversions every area's converters share."""
