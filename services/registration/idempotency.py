"""`Idempotency-Key` on every POST: a retried request gets the first answer and creates nothing twice.

The key is stored hashed per principal together with a fingerprint of the request and the answer,
in the same transaction as the change. Re-using a key for a different request is a 422. An account
secret in a stored answer is sealed with a keystream derived from the key itself, so the table
never holds a usable secret, yet the retrying client (who has the key) gets it back.

Keys are kept for `RETENTION` (7 days: a retry after a lost answer comes within seconds or, from
a form left open, within days); `forget_expired` removes older ones (the app runs it hourly).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.registration.store import idempotency
from services.registration.tx import write
from shared import problems
from shared.problems import FieldError

log = logging.getLogger(__name__)
Action = Callable[[Connection], tuple[int, dict]]  # a command: (status, body)
RETENTION = timedelta(days=7)
PRUNE_EVERY_S = 3600
HEADER = "Idempotency-Key"
STORED = select(idempotency).where(idempotency.c.key_hash == bindparam("key_hash"))
STORE = insert(idempotency)


def _stream(key: str, n: int) -> bytes:
    return hashlib.shake_256(b"girlsday-idempotency-seal\0" + key.encode()).digest(n)


def _seal(body: dict, key: str) -> dict:
    secret = body.get("account_secret")
    if not secret:
        return body
    raw = secret.encode()
    return {**body, "account_secret": {"sealed": bytes(a ^ b for a, b in zip(raw, _stream(key, len(raw)))).hex()}}


def _unseal(body: dict, key: str) -> dict:
    sealed = body.get("account_secret")
    if not isinstance(sealed, dict):
        return body
    raw = bytes.fromhex(sealed["sealed"])
    return {**body, "account_secret": bytes(a ^ b for a, b in zip(raw, _stream(key, len(raw)))).decode()}


async def execute(
    request: Request, principal_key: str, action: Action, *, key: str | None = None, content: bytes | None = None
) -> Response:
    """Run `action` in one transaction; with an Idempotency-Key, at most once per key.

    `key` overrides the header (web forms carry their key as a hidden field), `content` the body
    that is fingerprinted (a form's fields, once the form has been parsed)."""
    return await run_once(
        request.app.state.runtime,
        request.method,
        request.url.path,
        content if content is not None else await request.body(),
        key if key is not None else request.headers.get(HEADER),
        principal_key,
        action,
    )


async def run_once(runtime, method: str, path: str, content: bytes, key: str | None, principal_key: str, action: Action) -> Response:
    """`execute` without a Starlette request: the request's method, path, body and key."""
    if key is not None and not 1 <= len(key) <= 200:
        raise problems.invalid([FieldError("header", HEADER, "idempotency_key_length", "Idempotency-Key must have 1-200 characters")])
    fingerprint = hashlib.sha256(f"{method} {path}\0".encode() + content).hexdigest()
    key_hash = hashlib.sha256(f"{principal_key}\0{key}".encode()).hexdigest() if key is not None else None

    def once(conn: Connection) -> Response:
        if key_hash:
            stored = conn.execute(STORED, {"key_hash": key_hash}).first()
            if stored:
                return _replay(stored, fingerprint, key)
        status, body = action(conn)
        content = _json(body)
        if key_hash:
            sealed = _json(_seal(body, key)) if body.get("account_secret") else content
            conn.execute(
                STORE,
                dict(key_hash=key_hash, fingerprint=fingerprint, status_code=status, body=sealed.decode(), created_at=datetime.now(UTC)),
            )
        return _answer(content, status)

    for attempt in range(3):
        try:
            return await write(runtime, once)
        except IntegrityError:
            # A concurrent request won a unique constraint (same key, same BRIN/KvK): run again,
            # and the second pass sees its row and answers with the replay or the 409.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _replay(stored, fingerprint: str, key: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise problems.invalid(
            [FieldError("header", HEADER, "idempotency_key_reused", "this Idempotency-Key was used for a different request")]
        )
    body = orjson.loads(stored.body)
    content = _json(_unseal(body, key)) if isinstance(body, dict) and body.get("account_secret") else stored.body.encode()
    return _answer(content, stored.status_code, {"Idempotent-Replayed": "true"})


def _json(body) -> bytes:
    """The answer as JSON (dates and times in ISO 8601, as FastAPI writes them; anything else through FastAPI's encoder)."""
    return orjson.dumps(body, default=jsonable_encoder)


def _answer(content: bytes, status: int, headers: dict | None = None) -> Response:
    return Response(content, status, headers=headers, media_type="application/json")


def forget_pupil(conn: Connection, group_id: str, code: str) -> None:
    """An erased pupil's code leaves the stored answers about her group too: each keeps replaying,
    without her entry."""
    rows = conn.execute(select(idempotency.c.key_hash, idempotency.c.body).where(idempotency.c.body.contains(group_id, autoescape=True)))
    for row in rows.all():
        body = orjson.loads(row.body)
        if _without_pupil(body, code):
            conn.execute(update(idempotency).where(idempotency.c.key_hash == row.key_hash).values(body=_json(body).decode()))


def _without_pupil(value, code: str) -> bool:
    """Remove every pupil entry with this code from a JSON answer, in place; whether any was there."""
    found = False
    if isinstance(value, list):
        kept = [v for v in value if not (isinstance(v, dict) and v.get("pupil_ref") == code)]
        found = len(kept) < len(value)
        value[:] = kept
        items = value
    elif isinstance(value, dict):
        items = value.values()
    else:
        return False
    for item in items:
        found = _without_pupil(item, code) or found
    return found


async def forget_expired(runtime, now: datetime | None = None) -> int:
    """Remove the keys stored longer than RETENTION ago; how many were removed."""
    cutoff = (now or datetime.now(UTC)) - RETENTION

    def prune(conn: Connection) -> int:
        return conn.execute(delete(idempotency).where(idempotency.c.created_at < cutoff)).rowcount

    if removed := await write(runtime, prune):
        log.info("forgot %d expired idempotency keys", removed)
    return removed
