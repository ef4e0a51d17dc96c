"""PaymentGateway over HTTP, for the simulator's wire format (see `simulator_server`).

The whole point of this adapter is to classify failures honestly, because
money depends on it: only a failure to connect proves the PSP never saw the
request (PspUnavailable). Once bytes have left, a timeout, a reset, a closed
connection, a 5xx or an unreadable answer all mean "maybe charged"
(PspOutcomeUnknown), and only a retrieval by our key can settle it.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from accrue.payments.psp.port import (
    PspCharge,
    PspOutcomeUnknown,
    PspRefund,
    PspRejected,
    PspStatus,
    PspUnavailable,
)

_T = TypeVar("_T")


class _Connections(threading.local):
    conn: http.client.HTTPConnection | None = None


class HttpPaymentGateway:
    """One keep-alive connection per calling thread; any failure closes it and
    the next call connects afresh."""

    def __init__(
        self, base_url: str, *, timeout_seconds: float = 10.0, name: str = "simulated"
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port][/path], not {base_url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout_seconds
        self._name = name
        self._local = _Connections()

    @property
    def name(self) -> str:
        return self._name

    def charge(
        self,
        *,
        idempotency_key: str,
        token: str,
        amount_minor: int,
        currency_code: str,
        metadata: Mapping[str, str],
    ) -> PspCharge:
        body = {
            "idempotency_key": idempotency_key,
            "token": token,
            "amount_minor": amount_minor,
            "currency_code": currency_code,
            "metadata": dict(metadata),
        }
        return _parse(charge_from_json, self._post("/v1/charges", body))

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_psp_id: str,
        amount_minor: int,
        currency_code: str,
    ) -> PspRefund:
        body = {
            "idempotency_key": idempotency_key,
            "charge_id": charge_psp_id,
            "amount_minor": amount_minor,
            "currency_code": currency_code,
        }
        return _parse(refund_from_json, self._post("/v1/refunds", body))

    def retrieve_charge(self, idempotency_key: str) -> PspCharge | None:
        payload = self._get(f"/v1/charges?idempotency_key={quote(idempotency_key, safe='')}")
        return None if payload is None else _parse(charge_from_json, payload)

    def retrieve_refund(self, idempotency_key: str) -> PspRefund | None:
        payload = self._get(f"/v1/refunds?idempotency_key={quote(idempotency_key, safe='')}")
        return None if payload is None else _parse(refund_from_json, payload)

    def close(self) -> None:
        """Close the calling thread's connection (others close with their threads)."""
        self._drop()

    def _post(self, path: str, body: Mapping[str, Any]) -> bytes:
        status, payload = self._exchange("POST", path, json.dumps(body).encode(), retry=False)
        if status in (200, 402):  # 402: a decline, recorded; the body says so
            return payload
        raise _failure(status, payload)

    def _get(self, path: str) -> bytes | None:
        # A GET changes nothing, so a keep-alive connection the server has
        # since closed is simply retried once on a fresh one.
        status, payload = self._exchange("GET", path, None, retry=True)
        if status == 200:
            return payload
        if status == 404:
            return None
        raise _failure(status, payload)

    def _exchange(
        self, method: str, path: str, body: bytes | None, *, retry: bool
    ) -> tuple[int, bytes]:
        conn, reused = self._connection()
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            if retry and reused:
                return self._exchange(method, path, body, retry=False)
            raise PspOutcomeUnknown(
                f"{method} {path}: no answer from the PSP ({exc.__class__.__name__})"
            ) from exc
        if response.will_close:
            self._drop()
        return response.status, payload

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        if self._local.conn is not None:
            return self._local.conn, True
        factory = (
            http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        )
        conn = factory(self._host, self._port, timeout=self._timeout)
        try:
            conn.connect()
        except OSError as exc:  # refused, unreachable, DNS, connect timeout: nothing was sent
            conn.close()
            raise PspUnavailable(f"cannot connect to the PSP: {exc}") from exc
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn, self._local.conn = self._local.conn, None
        if conn is not None:
            conn.close()


def _failure(status: int, payload: bytes) -> Exception:
    code, message = _error_of(payload)
    if status == 429:
        return PspUnavailable(f"PSP throttled the request: {message}")
    if 400 <= status < 500 and status != 408:
        return PspRejected(message or f"PSP refused the request ({status})", code=code)
    return PspOutcomeUnknown(f"PSP answered {status}: {message}")


def _error_of(payload: bytes) -> tuple[str, str]:
    try:
        error = json.loads(payload)["error"]
        return str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return "unknown", payload[:200].decode(errors="replace")


def _parse(build: Callable[[Mapping[str, Any]], _T], payload: bytes) -> _T:
    """An answer we cannot read might still have been a charge: outcome unknown."""
    try:
        obj = json.loads(payload)
        if not isinstance(obj, dict):
            raise TypeError("not an object")
        return build(obj)
    except (ValueError, KeyError, TypeError) as exc:
        raise PspOutcomeUnknown(f"unreadable answer from the PSP: {exc!r}") from exc


def charge_from_json(obj: Mapping[str, Any]) -> PspCharge:
    return PspCharge(
        psp_id=_str(obj, "id"),
        idempotency_key=_str(obj, "idempotency_key"),
        amount_minor=_int(obj, "amount_minor"),
        currency_code=_str(obj, "currency_code"),
        status=PspStatus(obj["status"]),
        decline_code=_str(obj, "decline_code"),
        fee_minor=_int(obj, "fee_minor"),
        create_time=_time(obj, "created"),
    )


def refund_from_json(obj: Mapping[str, Any]) -> PspRefund:
    return PspRefund(
        psp_id=_str(obj, "id"),
        idempotency_key=_str(obj, "idempotency_key"),
        charge_psp_id=_str(obj, "charge_id"),
        amount_minor=_int(obj, "amount_minor"),
        currency_code=_str(obj, "currency_code"),
        status=PspStatus(obj["status"]),
        failure_code=_str(obj, "failure_code"),
        create_time=_time(obj, "created"),
    )


def _str(obj: Mapping[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise TypeError(name)
    return value


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(name)
    return value


def _time(obj: Mapping[str, Any], name: str) -> datetime:
    instant = datetime.fromisoformat(_str(obj, name))
    if instant.tzinfo is None:
        raise ValueError(name)
    return instant.astimezone(UTC)
