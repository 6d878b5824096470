"""Switchyard's Celery result backend: PostgreSQL on psycopg 3, JSON only, woken by NOTIFY.

Selected with a `switchyard+postgresql://...` result backend URL (the `switchyard` scheme is
registered as a `celery.result_backends` entry point). What it does instead of the stock
`db+postgresql://` backend:

- one upsert per state change, which also notifies waiters (`results.store`);
- `get()`, `GroupResult.get()` and `join()` sleep until notified, and the notification
  usually carries the row (`results.waiting`, `results.listener`);
- chords joined by an atomic counter, without `chord_unlock` polling (`results.chords`);
- results as `jsonb`, never pickle; a result JSON cannot encode, or above
  `RESULT_MAX_BYTES`, fails the task with `ResultEncodeError` (`results.codec`); exception
  messages and tracebacks are stored cut to a bound;
- expired rows deleted in bounded batches by the writing processes (`results.retention`).

Connection errors (a database restart) are retried with backoff, forever by default
(`result_backend_max_retries`), on fresh pooled connections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from celery import states
from celery.backends.base import BaseBackend
from celery.canvas import maybe_signature
from celery.exceptions import ChordError, ImproperlyConfigured, TimeoutError
from celery.result import GroupResult, allow_join_result, result_from_tuple

from compat import LazyGroupResults, publish_callback
from results import BACKEND_SCHEME, chords, codec, store
from results.connections import RETRYABLE, Connection, ProcessPool
from results.listener import ResultListener
from results.retention import Retention
from results.waiting import Waiter
from routing.names import queue_of_routing_key

logger = logging.getLogger(__name__)


# celery-types describes BaseBackend only in part; its attributes are typed Any here.
_Base: Any = BaseBackend


class SwitchyardBackend(_Base):  # type: ignore[misc]
    """Celery result backend; one instance per app, shared by the app's threads."""

    supports_native_join = True
    supports_autoexpire = True  # no daily beat cleanup: writers expire rows themselves

    def __init__(self, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(url=url, **kwargs)
        if not url or not url.startswith(("postgresql://", "postgres://")):
            raise ImproperlyConfigured(
                f"{BACKEND_SCHEME} result backend needs {BACKEND_SCHEME}+postgresql://..."
            )
        if self.serializer != "json":
            raise ImproperlyConfigured(
                f"{BACKEND_SCHEME} result backend stores JSON only; result_serializer is "
                f"{self.serializer!r}"
            )
        self.thread_safe = True
        self.always_retry = True
        self.pool = ProcessPool(url)
        self.retention = Retention(self.expires)
        self.waiter = Waiter(url, self._read_metas, self._notified_meta)
        # Read once: a configuration lookup per stored state was a few % of a task's CPU.
        self.extended = bool(self.app.conf.find_value_for_key("extended", "result"))

    def as_uri(self, include_password: bool = False) -> str:
        return f"{BACKEND_SCHEME}+{super().as_uri(include_password)}"

    def exception_safe_to_retry(self, exc: Exception) -> bool:
        return isinstance(exc, RETRYABLE)

    def encode(self, data: Any) -> str:
        return codec.encode(data)

    def decode(self, payload: Any) -> Any:
        return codec.decode(payload)

    # -- one task's state ------------------------------------------------------------

    def _store_result(
        self,
        task_id: str,
        result: Any,
        state: str,
        traceback: str | None = None,
        request: Any = None,
        **kwargs: Any,
    ) -> Any:
        row = self._state_row(task_id, result, state, traceback, request)
        with self.pool.connection() as conn:
            try:
                store.write_state(conn, row)
            except psycopg.errors.UntranslatableCharacter as exc:
                raise codec.ResultEncodeError(f"result cannot be stored as jsonb: {exc}") from None
            self._expire_if_due(conn)
        return result

    def _state_row(
        self, task_id: str, result: Any, state: str, traceback: str | None, request: Any
    ) -> store.StateRow:
        delivery = getattr(request, "delivery_info", None) or {}
        extended = request is not None and self.extended
        children = self.current_task_children(request)
        if state in states.EXCEPTION_STATES:
            result = codec.bounded_exception(result)
        return store.StateRow(
            task_id=str(task_id),
            state=state,
            result=codec.check_result_size(self.encode(result)),
            traceback=None
            if traceback is None
            else codec.bounded_text(traceback, codec.TRACEBACK_MAX_CHARS),
            name=getattr(request, "task", None),
            queue=_queue_of(delivery.get("routing_key")),
            worker=getattr(request, "hostname", None),
            retries=getattr(request, "retries", None),
            children=None if children is None else self.encode(children),
            group_id=getattr(request, "group", None),
            parent_id=getattr(request, "parent_id", None),
            args=self.encode(getattr(request, "args", None)) if extended else None,
            kwargs=self.encode(getattr(request, "kwargs", None)) if extended else None,
        )

    def _get_task_meta_for(self, task_id: str) -> dict[str, Any]:
        metas = self._read_metas([task_id])
        return metas.get(task_id) or {"status": states.PENDING, "result": None}

    def _read_metas(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        with self.pool.connection() as conn:
            rows = store.read_states(conn, task_ids)
        return {task_id: self._meta(row) for task_id, row in rows.items()}

    def _notified_meta(self, row: str) -> dict[str, Any]:
        return self._meta(store.notified_state(row))

    def _meta(self, row: store.StoredState) -> dict[str, Any]:
        meta = {
            "task_id": row.task_id,
            "status": row.state,
            "result": row.result,
            "traceback": row.traceback,
            "children": row.children,
            "date_done": row.date_done,
            "group_id": row.group_id,
            "parent_id": row.parent_id,
            "name": row.name,
            "queue": row.queue,
            "worker": row.worker,
            "retries": row.retries,
            "args": row.args,
            "kwargs": row.kwargs,
        }
        return dict(self.meta_from_decoded(meta))

    def _forget(self, task_id: str) -> None:
        with self.pool.connection() as conn:
            store.delete_state(conn, task_id)

    # -- waiting ---------------------------------------------------------------------

    def wait_for(
        self,
        task_id: str,
        timeout: float | None = None,
        interval: float = 0.5,
        no_ack: bool = True,
        on_interval: Any = None,
    ) -> dict[str, Any]:
        """Block until the task is ready; woken by NOTIFY, not by a poll every `interval`."""
        for _, meta in self.get_many([task_id], timeout=timeout, on_interval=on_interval):
            return meta
        raise TimeoutError("The operation timed out.")  # not reached: get_many raises first

    def get_many(  # noqa: PLR0917 - Celery's signature
        self,
        task_ids: Iterable[str],
        timeout: float | None = None,
        interval: float = 0.5,
        no_ack: bool = True,
        on_message: Any = None,
        on_interval: Any = None,
        max_iterations: int | None = None,
        READY_STATES: frozenset[str] = states.READY_STATES,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield `(task_id, meta)` as each task becomes ready, in completion order.

        Raises:
            celery.exceptions.TimeoutError: `timeout` seconds passed with tasks not ready.
        """
        self._ensure_not_eager()
        pending = {str(t) for t in task_ids}
        for task_id in list(pending):
            cached = self._cache.get(task_id)
            if cached is not None and cached["status"] in READY_STATES:
                pending.discard(task_id)
                yield task_id, cached
        if not pending:
            return
        ready = (
            self.waiter.ready_now(pending, READY_STATES)
            if max_iterations  # a single look, as ResultSet uses to peek at its members
            else self.waiter.wait(pending, timeout, READY_STATES, on_interval)
        )
        for task_id, meta in ready:
            self._cache[task_id] = meta
            if on_message is not None:
                on_message(meta)
            yield task_id, meta

    def listener(self) -> ResultListener:
        """This process's listening connection (tests look at it)."""
        return self.waiter.listener()

    # -- groups ----------------------------------------------------------------------

    def _save_group(self, group_id: str, result: GroupResult) -> GroupResult:
        with self.pool.connection() as conn:
            store.save_group(conn, group_id, self.encode(result.as_tuple()))
        return result

    def _restore_group(self, group_id: str) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            saved = store.read_group(conn, group_id)
        if saved is None:
            return None
        return {"result": result_from_tuple(self.decode(saved), self.app)}

    def _delete_group(self, group_id: str) -> None:
        with self.pool.connection() as conn:
            store.delete_group(conn, group_id)

    # -- chords ----------------------------------------------------------------------

    def apply_chord(self, header_result_args: Any, body: Any, **kwargs: Any) -> None:
        """Start the counter; no `chord_unlock` task is sent."""
        self.ensure_chords_allowed()
        group_id = header_result_args[0]
        self._ensure_retryable(self._with_conn, chords.begin, group_id)
        if not isinstance(header_result_args[1], LazyGroupResults):
            header = self.app.GroupResult(*header_result_args)
            # Nested groups keep their shape only if the header is saved for the join.
            if any(isinstance(r, GroupResult) for r in header.results):
                self.save_group(group_id, header)

    def set_chord_size(self, group_id: str, chord_size: int) -> None:
        self._ensure_retryable(self._with_conn, chords.set_size, group_id, chord_size)

    def add_to_chord(self, group_id: str, result: Any) -> None:
        self._ensure_retryable(self._with_conn, chords.grow, group_id)

    def on_chord_part_return(self, request: Any, state: str, result: Any, **kwargs: Any) -> None:
        """Count this header task; the completion that reaches the size sends the body."""
        if not request.group or not request.id:
            return
        part_state, part_json = self._chord_part(state, result)
        self._ensure_retryable(self._count_chord_part, request, part_state, part_json)

    def _chord_part(self, state: str, result: Any) -> tuple[str, str]:
        try:
            return state, self.encode(self.encode_result(result, state))
        except codec.ResultEncodeError as exc:
            return states.FAILURE, self.encode(self.prepare_exception(exc))

    def _count_chord_part(self, request: Any, state: str, result_json: str) -> None:
        group_id = request.group
        # One transaction from counting to sending: if this process dies before it
        # commits, the count is undone and the redelivered task counts (and sends) again.
        with self.pool.connection() as conn, conn.transaction():
            count = chords.count_part(
                conn,
                group_id=group_id,
                task_id=request.id,
                idx=request.group_index,
                state=state,
                result=result_json,
            )
            if count is None:
                logger.error("chord %s: no counter row (expired?); body not sent", group_id)
                return
            if not count.completes:
                return
            callback = maybe_signature(request.chord, app=self.app)
            if callback is None:
                return
            try:
                values = self._chord_header_values(conn, group_id)
            except ChordError as exc:
                logger.error("chord %s: %s", group_id, exc)
                self.chord_error_from_stack(callback, exc)
            else:
                try:
                    publish_callback(self.app, callback.delay, values)
                except Exception as exc:  # any publish failure fails the body, as stock
                    logger.exception("chord %s: sending the body failed", group_id)
                    self.chord_error_from_stack(
                        callback, _chord_error(f"Callback error: {exc!r}", exc)
                    )
            chords.finish(conn, group_id)

    def _chord_header_values(self, conn: Connection, group_id: str) -> list[Any]:
        """The header's results in header order.

        Raises:
            ChordError: a header task failed (the body then fails with this error).
        """
        saved = store.read_group(conn, group_id)
        if saved is not None:
            header = result_from_tuple(self.decode(saved), self.app)
            if isinstance(header, GroupResult):
                try:
                    with allow_join_result():
                        return list(
                            header.join_native(
                                timeout=self.app.conf.result_chord_join_timeout, propagate=True
                            )
                        )
                except Exception as exc:
                    raise _chord_error(f"Join error: {exc!r}", exc) from exc
        values = []
        for part in chords.read_parts(conn, group_id):
            value = self.decode(part.result)
            if part.state in states.PROPAGATE_STATES:
                failure = self.exception_to_python(value)
                raise _chord_error(f"Dependency {part.task_id} raised {failure!r}", failure)
            values.append(value)
        return values

    # -- retention -------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete every expired row now (Celery's `backend_cleanup` task calls this)."""
        with self.pool.connection() as conn:
            self.retention.run_until_done(conn)

    def _expire_if_due(self, conn: Connection) -> None:
        if not self.retention.due():
            return
        try:
            deleted = self.retention.run(conn)
        except psycopg.Error as exc:  # a failed clean-up must not fail the write
            logger.warning("result retention batch failed: %s", exc)
            return
        if any(deleted.values()):
            logger.info("result retention: deleted %s", deleted)

    def _with_conn(self, operation: Any, *args: Any) -> Any:
        with self.pool.connection() as conn:
            return operation(conn, *args)

    def __reduce__(self, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        return super().__reduce__(args, dict(kwargs or {}, url=self.url))


def _chord_error(message: str, cause: object) -> ChordError:
    """The error a chord body fails with, keeping the header's exception as its cause."""
    error = ChordError(message)
    if isinstance(cause, BaseException):
        error.__cause__ = cause
    return error


def _queue_of(routing_key: str | None) -> str | None:
    """The queue a task came from: its routing key, as every binding is a queue's name."""
    return None if routing_key is None else queue_of_routing_key(routing_key)
