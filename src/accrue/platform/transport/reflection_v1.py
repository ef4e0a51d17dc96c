"""gRPC server reflection `grpc.reflection.v1`, next to `v1alpha`.

grpcurl and `buf curl` ask for v1 first; grpcio-reflection 1.85 ships only
v1alpha. The two protocols are the same messages with the same field numbers
under another package name (v1 is v1alpha promoted), so v1 is served by the
same servicer with the v1alpha message classes doing the (identical) wire
encoding. The v1 file descriptor is derived from the v1alpha one, with its
package renamed, and added to the descriptor pool, so reflection can also
describe the v1 service itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha import reflection_pb2 as alpha

PACKAGE = "grpc.reflection.v1"
FILE_NAME = "grpc/reflection/v1/reflection.proto"
SERVICE_NAME = f"{PACKAGE}.ServerReflection"


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    alpha.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{proto.package}.", f".{PACKAGE}."
    proto.name = FILE_NAME
    proto.package = PACKAGE
    proto.options.Clear()  # v1alpha's are deprecated=true and v1alpha language packages
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name.removeprefix(old)
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type.removeprefix(old)
            method.output_type = new + method.output_type.removeprefix(old)
    return proto


def _register(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindFileByName(FILE_NAME)
    except KeyError:
        pool.Add(_v1_file())


def enable_server_reflection(service_names: Iterable[str], server: grpc.Server) -> None:
    """Serve reflection v1 and v1alpha for `service_names` (both added to the list)."""
    names = [*service_names, reflection.SERVICE_NAME, SERVICE_NAME]
    _register(descriptor_pool.Default())
    reflection.enable_server_reflection(names, server)
    servicer = reflection.ReflectionServicer(names)
    handler = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=alpha.ServerReflectionRequest.FromString,
                response_serializer=alpha.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
