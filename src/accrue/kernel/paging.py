"""Opaque page tokens for oldest-first lists (AIP-158).

A token records the last id served and a fingerprint of the query, so a
token is rejected when reused with a different filter instead of silently
returning the wrong page. What is made here is only the cursor: the API seals
it before it leaves (`accrue.platform.transport.page_tokens`: authenticated, bound to the
tenant and the method, with an expiry) and opens it before a handler parses
it, so a client can neither forge nor alter what arrives here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from accrue.kernel.errors import InvalidPageToken

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated page request: how many items, and the id to start after."""

    size: int
    after_id: str
    query_fingerprint: str

    @classmethod
    def parse(cls, *, page_size: int, page_token: str, query: Mapping[str, object]) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
        fingerprint = _fingerprint(query)
        if not page_token:
            return cls(size, "", fingerprint)
        try:
            raw = json.loads(base64.urlsafe_b64decode(page_token.encode("ascii")))
            after_id, token_fingerprint = raw["a"], raw["q"]
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError) as exc:
            raise InvalidPageToken("page_token is malformed") from exc
        if token_fingerprint != fingerprint or not isinstance(after_id, str):
            raise InvalidPageToken("page_token belongs to a different query")
        return cls(size, after_id, fingerprint)

    @property
    def after_sequence(self) -> int:
        """The cursor of a list ordered by sequence rather than by id."""
        if not self.after_id:
            return 0
        if not self.after_id.isdigit():
            raise InvalidPageToken("page_token is malformed")
        return int(self.after_id)

    def token_after(self, last_id: str) -> str:
        payload = json.dumps({"a": last_id, "q": self.query_fingerprint}, separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode("ascii")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_page_token: str


def _fingerprint(query: Mapping[str, object]) -> str:
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_HasId)


class _HasSequence(Protocol):
    @property
    def sequence(self) -> int: ...


SeqT = TypeVar("SeqT", bound=_HasSequence)


def paginate_by_sequence(fetched: Sequence[SeqT], page: PageRequest) -> Page[SeqT]:
    """`paginate` for logs ordered by sequence (ledger transactions, events)."""
    if len(fetched) > page.size:
        items = list(fetched[: page.size])
        return Page(items, page.token_after(str(items[-1].sequence)))
    return Page(list(fetched), "")


def paginate(fetched: Sequence[ItemT], page: PageRequest) -> Page[ItemT]:
    """Cut a fetch of `page.size + 1` rows into a page and the token for the next one."""
    if len(fetched) > page.size:
        items = list(fetched[: page.size])
        return Page(items, page.token_after(items[-1].id))
    return Page(list(fetched), "")
