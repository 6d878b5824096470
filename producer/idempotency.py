"""Idempotency keys: a request retried with the same key enqueues its task once.

A client that timed out cannot know whether its request was taken, so it sends it again.
With an `Idempotency-Key` the first request claims the key in PostgreSQL with a new task id
before publishing; a repeat finds the key and answers with that same task id, enqueuing
nothing. When the publish failed (the client got a 503) the key is marked failed and the
repeat publishes again with the *same* task id, so a message the broker took after all and
its re-publish are one task, one result row. A key expires after its time to live; a key
sent again with a different request is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from results.connections import statement
from results.tables import IDEMPOTENCY_KEY

PUBLISHING, PUBLISHED, FAILED = "publishing", "published", "failed"
# A claim older than this whose publish never reported back (the process died) is taken over.
STALE_CLAIM_S = 60

_T = sql.Identifier(IDEMPOTENCY_KEY)

# Insert a claim; or take over an expired key (new task id), or a failed or stale claim of the
# same request (same task id). Returns the task id to publish when this request owns the key.
_CLAIM = statement(
    "INSERT INTO {t} AS k (client, key, fingerprint, task_id, state, expires_at) "
    "VALUES (%(client)s, %(key)s, %(fingerprint)s, %(task_id)s, {publishing}, "
    "now() + make_interval(secs => %(ttl)s)) "
    "ON CONFLICT (client, key) DO UPDATE SET "
    "task_id = CASE WHEN k.expires_at < now() THEN EXCLUDED.task_id ELSE k.task_id END, "
    "fingerprint = EXCLUDED.fingerprint, state = {publishing}, "
    "expires_at = EXCLUDED.expires_at, updated_at = now() "
    "WHERE k.expires_at < now() OR (k.fingerprint = EXCLUDED.fingerprint AND (k.state = {failed} "
    "OR (k.state = {publishing} AND k.updated_at < now() - make_interval(secs => {stale})))) "
    "RETURNING task_id",
    t=_T,
    publishing=sql.Literal(PUBLISHING),
    failed=sql.Literal(FAILED),
    stale=sql.Literal(STALE_CLAIM_S),
)
_READ = statement(
    "SELECT fingerprint, task_id, state FROM {t} WHERE client = %s AND key = %s", t=_T
)
_SETTLE = statement(
    "UPDATE {t} SET state = %s, updated_at = now() WHERE client = %s AND key = %s AND task_id = %s",
    t=_T,
)


@dataclass(frozen=True)
class Claim:
    """What a request with a key is to do.

    `outcome`: "publish" (this request owns the key: publish `task_id`), "replay" (already
    published: answer with `task_id`), "in_progress" (another request with the key is
    publishing now), "mismatch" (the key came with a different request before).
    """

    outcome: Literal["publish", "replay", "in_progress", "mismatch"]
    task_id: str


def fingerprint(task_name: str, payload: Any) -> str:
    """A stable hash of what was asked: the task and its validated arguments and options."""
    text = json.dumps([task_name, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyKeys:
    """The key table, through the API's async connection pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[object, ...]]],
        ttl_s: int,
    ) -> None:
        self.pool = pool
        self.ttl_s = ttl_s

    async def claim(self, client: str, key: str, fingerprint: str, new_task_id: str) -> Claim:
        params = {
            "client": client,
            "key": key,
            "fingerprint": fingerprint,
            "task_id": new_task_id,
            "ttl": self.ttl_s,
        }
        async with self.pool.connection() as conn:
            row = await (await conn.execute(_CLAIM, params)).fetchone()
            if row is not None:
                return Claim("publish", str(row[0]))
            found = await (await conn.execute(_READ, (client, key))).fetchone()
        if found is None:  # deleted in between by retention: claim again
            return await self.claim(client, key, fingerprint, new_task_id)
        stored_fingerprint, task_id, state = (str(v) for v in found)
        if stored_fingerprint != fingerprint:
            return Claim("mismatch", task_id)
        if state == PUBLISHED:
            return Claim("replay", task_id)
        return Claim("in_progress", task_id)

    async def settle(self, client: str, key: str, task_id: str, *, published: bool) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(_SETTLE, (PUBLISHED if published else FAILED, client, key, task_id))
