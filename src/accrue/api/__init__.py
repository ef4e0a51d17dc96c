"""Transport: proto <-> domain conversion, the error table, gRPC and Connect adapters."""
