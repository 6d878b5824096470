"""Where the producing side plugs a faster sender into every task's `apply_async`.

Celery's `apply_async` spends about a millisecond of CPU per call building a message that,
for a task called again and again with the same options, differs only in its id and its
arguments. The producing side (`producer.fast_apply`) can send such a message much more
cheaply, but the task class sits below it: tasks must not import publishing machinery.
So the task class only holds the slot, per app, and the producer fills it with
`install_fast_send`. A sender declines what it does not cover exactly, and Celery's own
`apply_async` runs; without a sender installed nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from celery import Celery, Task
from celery.result import AsyncResult


@dataclass(frozen=True)
class Declined:
    """The sender did not send: Celery's `apply_async` must, with `task_id` when it is set
    (a message written whose confirm never came may have been taken: the same id keeps it
    one task)."""

    task_id: str | None = None


class FastSend(Protocol):
    """Send `task` with these arguments and options, or decline.

    Called only without the options no sender covers (`producer`, `link`, `link_error`,
    `shadow`); what it raises reaches the caller of `apply_async`.
    """

    def __call__(
        self,
        task: Task[Any, Any],
        args: Any,
        kwargs: Any,
        task_id: str | None,
        options: dict[str, Any],
    ) -> AsyncResult[Any] | Declined: ...


_SENDERS: WeakKeyDictionary[Celery, FastSend] = WeakKeyDictionary()


def install_fast_send(app: Celery, send: FastSend | None) -> None:
    """Make `send` the sender of `app`'s tasks (None: Celery's own path again)."""
    if send is None:
        _SENDERS.pop(app, None)
    else:
        _SENDERS[app] = send


def installed_fast_send(app: Celery) -> FastSend | None:
    return _SENDERS.get(app)


class FastSendTask(Task[Any, Any]):
    """Offers `apply_async` to the app's installed sender before Celery's own.

    Placed after the publish checks in the task base's order, so a sender only ever sees
    calls that passed them.
    """

    abstract = True

    def apply_async(  # noqa: PLR0917 - Celery's signature
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        if producer is None and link is None and link_error is None and shadow is None:
            send = _SENDERS.get(self.app)
            if send is not None:
                sent = send(self, args, kwargs, task_id, options)
                if not isinstance(sent, Declined):
                    return sent
                task_id = sent.task_id or task_id
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )
