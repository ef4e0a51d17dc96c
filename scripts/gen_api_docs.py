#!/usr/bin/env python3
"""Print the Markdown API reference of the Accrue contract (docs/api.md).

The reference is rendered from the comments in proto/, so the contract stays
the single source of truth: a comment fixed in a .proto file is fixed in the
docs by the next `scripts/generate`, and CI (`scripts/check-contract`) fails
when the committed docs lag behind. The schema comes from `buf build` with
source info rather than from parsing .proto text, so the script sees exactly
what buf compiles. The output depends only on the contract: same input, same
bytes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import descriptor_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
OWN_PREFIX = "accrue/"  # google/ and buf/ files are vendored, not our contract

# Field numbers of the descriptor messages, for SourceCodeInfo.Location.path.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM = 2, 3, 4
ENUM_VALUE = 2
SERVICE_METHOD = 2

FDP = pb.FieldDescriptorProto
SCALARS = {
    value: name.removeprefix("TYPE_").lower()
    for name, value in FDP.Type.items()
    if name not in ("TYPE_MESSAGE", "TYPE_ENUM", "TYPE_GROUP")
}

DescPath = tuple[int, ...]
Options = (
    pb.ServiceOptions
    | pb.MethodOptions
    | pb.MessageOptions
    | pb.FieldOptions
    | pb.EnumOptions
    | pb.EnumValueOptions
)


def load_image() -> pb.FileDescriptorSet:
    """Build the workspace with buf; an image keeps comments (source info) by default."""
    buf = shutil.which("buf") or str(Path(sys.executable).parent / "buf")
    with tempfile.TemporaryDirectory() as work:
        image = Path(work) / "image.binpb"
        result = subprocess.run([buf, "build", "-o", str(image)], cwd=ROOT, check=False)
        if result.returncode != 0:
            sys.exit(f"gen_api_docs: buf build failed (exit {result.returncode})")
        return pb.FileDescriptorSet.FromString(image.read_bytes())


class Comments:
    """Comments of one file, looked up by descriptor path."""

    def __init__(self, file: pb.FileDescriptorProto) -> None:
        self._by_path = {tuple(loc.path): loc for loc in file.source_code_info.location}

    def get(self, path: DescPath) -> str:
        loc = self._by_path.get(path)
        if loc is None:
            return ""
        text = loc.leading_comments or loc.trailing_comments
        lines = [line.strip() for line in text.strip("\n").split("\n")]
        return "\n".join(lines).strip()


def one_line(text: str) -> str:
    """Fold a comment into a table cell: paragraphs become spaces, pipes are escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def anchor(full_name: str) -> str:
    """An explicit HTML id per type: stable across Markdown renderers, unlike heading slugs."""
    return full_name.lstrip(".").replace(".", "-").lower()


def type_ref(type_name: str) -> str:
    """Link our own types to their section; show well-known and vendored types by name."""
    name = type_name.lstrip(".")
    if name.startswith(OWN_PREFIX.rstrip("/") + "."):
        return f"[`{name.rsplit('.', 1)[-1]}`](#{anchor(name)})"
    return f"`{name}`"


def walk_messages(
    messages: list[pb.DescriptorProto], prefix: str, path: DescPath
) -> Iterator[tuple[str, pb.DescriptorProto, DescPath]]:
    """Yield every message, nested ones after their parent, in declaration order."""
    for index, message in enumerate(messages):
        full_name = f"{prefix}.{message.name}"
        here = (*path, index)
        yield full_name, message, here
        yield from walk_messages(list(message.nested_type), full_name, (*here, MESSAGE_NESTED))


def walk_enums(
    file: pb.FileDescriptorProto,
) -> Iterator[tuple[str, pb.EnumDescriptorProto, DescPath]]:
    """Yield top-level enums, then enums nested in messages."""
    for index, enum in enumerate(file.enum_type):
        yield f"{file.package}.{enum.name}", enum, (FILE_ENUM, index)
    for full_name, message, path in walk_messages(
        list(file.message_type), file.package, (FILE_MESSAGE,)
    ):
        for index, enum in enumerate(message.enum_type):
            yield f"{full_name}.{enum.name}", enum, (*path, MESSAGE_ENUM, index)


def field_type_and_label(field: pb.FieldDescriptorProto, maps: dict[str, str]) -> tuple[str, str]:
    """The type as a client sees it, and the cardinality that changes how it is set or read."""
    if field.type_name in maps:
        return maps[field.type_name], "map"
    kind = type_ref(field.type_name) if field.type_name else f"`{SCALARS[field.type]}`"
    if field.label == FDP.LABEL_REPEATED:
        return kind, "repeated"
    if field.proto3_optional:
        return kind, "optional"
    if field.HasField("oneof_index"):
        return kind, "oneof"
    return kind, ""


def map_types(image: pb.FileDescriptorSet) -> dict[str, str]:
    """Map-entry message name -> `map<K, V>`, so map fields read as they were written."""
    result = {}
    for file in image.file:
        for full_name, message, _ in walk_messages(list(file.message_type), file.package, ()):
            if message.options.map_entry:
                key, value = message.field
                key_type = SCALARS[key.type]
                value_type = value.type_name.lstrip(".") or SCALARS[value.type]
                result[f".{full_name}"] = f"`map<{key_type}, {value_type}>`"
    return result


def described(options: Options, text: str) -> str:
    """Mark deprecations loudly: in v1 they replace removals, so readers must see them."""
    return f"**Deprecated.** {text}".strip() if options.deprecated else text


def heading(kind: str, full_name: str, local: str) -> str:
    return f'### <a id="{anchor(full_name)}"></a>{kind} {full_name.removeprefix(local)}\n'


def render_service(
    service: pb.ServiceDescriptorProto, path: DescPath, comments: Comments
) -> Iterator[str]:
    if text := described(service.options, comments.get(path)):
        yield f"{text}\n"
    yield "| Method | Request | Response | Description |\n| --- | --- | --- | --- |"
    for index, method in enumerate(service.method):
        request = ("stream " if method.client_streaming else "") + type_ref(method.input_type)
        response = ("stream " if method.server_streaming else "") + type_ref(method.output_type)
        text = described(method.options, one_line(comments.get((*path, SERVICE_METHOD, index))))
        yield f"| `{method.name}` | {request} | {response} | {text} |"
    yield ""


def render_message(
    message: pb.DescriptorProto, path: DescPath, comments: Comments, maps: dict[str, str]
) -> Iterator[str]:
    if text := described(message.options, comments.get(path)):
        yield f"{text}\n"
    if not message.field:
        yield "No fields.\n"
        return
    yield "| Field | Number | Type | Label | Description |\n| --- | --- | --- | --- | --- |"
    for index, field in enumerate(message.field):
        kind, label = field_type_and_label(field, maps)
        if label == "oneof":
            label = f"oneof `{message.oneof_decl[field.oneof_index].name}`"
        text = described(field.options, one_line(comments.get((*path, MESSAGE_FIELD, index))))
        yield f"| `{field.name}` | {field.number} | {kind} | {label} | {text} |"
    yield ""


def render_enum(enum: pb.EnumDescriptorProto, path: DescPath, comments: Comments) -> Iterator[str]:
    if text := described(enum.options, comments.get(path)):
        yield f"{text}\n"
    yield "| Value | Number | Description |\n| --- | --- | --- |"
    for index, value in enumerate(enum.value):
        text = described(value.options, one_line(comments.get((*path, ENUM_VALUE, index))))
        yield f"| `{value.name}` | {value.number} | {text} |"
    yield ""


def render_file(file: pb.FileDescriptorProto, maps: dict[str, str]) -> Iterator[str]:
    """Services first (they are the entry points), then messages and enums as declared."""
    comments = Comments(file)
    local = file.package + "."
    yield f"## {file.name}\n\nPackage `{file.package}`.\n"
    for index, service in enumerate(file.service):
        yield heading("service", local + service.name, local)
        yield from render_service(service, (FILE_SERVICE, index), comments)
    for full_name, message, path in walk_messages(
        list(file.message_type), file.package, (FILE_MESSAGE,)
    ):
        if not message.options.map_entry:  # rendered as map<K, V> on the field instead
            yield heading("message", full_name, local)
            yield from render_message(message, path, comments, maps)
    for full_name, enum, path in walk_enums(file):
        yield heading("enum", full_name, local)
        yield from render_enum(enum, path, comments)


def render(image: pb.FileDescriptorSet) -> str:
    files = sorted((f for f in image.file if f.name.startswith(OWN_PREFIX)), key=lambda f: f.name)
    maps = map_types(image)
    lines = [
        "# Accrue API reference",
        "",
        "<!-- Generated by scripts/gen_api_docs.py from the comments in proto/. DO NOT EDIT:",
        "     change the .proto comments and run scripts/generate. -->",
        "",
        "Files:",
        "",
        *(f"- [{f.name}](#{f.name.replace('/', '').replace('.', '')})" for f in files),
        "",
    ]
    for file in files:
        lines.extend(render_file(file, maps))
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    sys.stdout.buffer.write(render(load_image()).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
