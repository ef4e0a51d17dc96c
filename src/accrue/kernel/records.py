"""`evolve`: a changed copy of a frozen record, as `dataclasses.replace` makes it, faster.

Why: the domain's records are frozen dataclasses and every step of a renewal,
a finalisation or a posting returns a changed copy. `dataclasses.replace`
gathers every field into keyword arguments and calls the class's `__init__`,
which for a frozen class sets each field through `object.__setattr__` looked
up again per field. For an Invoice (24 fields) that is about 6 us per copy,
and the bill run made about a dozen such copies per renewal: together with the
constructors they were about a tenth of a worker's CPU.

`evolve` builds, once per class, a function that makes the new instance and
sets each field from the changes or from the original, then runs the class's
`__post_init__`, so every invariant a record checks is checked exactly as
`replace` checks it. About 2.5x faster for an Invoice.

The same contract as `replace`: only declared fields may be changed (anything
else is a TypeError), and the result equals `replace(record, **changes)`. A
class with an `init=False` field, an `InitVar` or a `ClassVar` (which `replace`
recomputes, needs passed or leaves alone), or with an `__init__` of its own
(`@dataclass(init=False)`, which `replace` calls), is copied by `replace` itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

_Copier = Callable[[Any, dict[str, Any]], Any]
_COPIERS: dict[type, tuple[_Copier, frozenset[str]]] = {}


def evolve(record: R, /, **changes: Any) -> R:
    """`dataclasses.replace(record, **changes)`, built for the hot paths."""
    kind = type(record)
    found = _COPIERS.get(kind)
    if found is None:
        found = _COPIERS[kind] = _copier(kind)
    copy, names = found
    if not names.issuperset(changes):
        unknown = ", ".join(sorted(set(changes) - names))
        raise TypeError(f"{kind.__name__} has no field(s) {unknown} to change")
    result: R = copy(record, changes)
    return result


def _copier(kind: type) -> tuple[_Copier, frozenset[str]]:
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"evolve() needs a dataclass instance, not {kind.__name__}")
    fields = dataclasses.fields(kind)
    names = [f.name for f in fields]
    # __dataclass_fields__ also holds InitVar (and ClassVar) pseudo-fields.
    pseudo = len(kind.__dataclass_fields__) != len(fields)
    own_init = not kind.__dataclass_params__.init  # type: ignore[attr-defined]
    if pseudo or own_init or any(not f.init for f in fields):
        return (lambda record, changes: dataclasses.replace(record, **changes)), frozenset(names)
    # Field names are Python identifiers (the class statement made them), so the
    # generated source is only attribute names and their string literals.
    body = [
        f"    _set(new, {n!r}, changes[{n!r}] if {n!r} in changes else record.{n})" for n in names
    ]
    post_init = hasattr(kind, "__post_init__")
    source = "\n".join(
        [
            "def copy(record, changes):",
            "    new = _new(kind)",
            *body,
            *(["    new.__post_init__()"] if post_init else []),
            "    return new",
        ]
    )
    namespace: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "kind": kind}
    exec(source, namespace)  # noqa: S102 - source built above from the class's own field names
    copier: _Copier = namespace["copy"]
    return copier, frozenset(names)
