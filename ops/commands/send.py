"""`switchyard send TASK [ARGS...]`: enqueue a task by hand and print its id (and result)."""

from __future__ import annotations

import argparse
import difflib
import json
from typing import Any

from config.settings import SettingsError

DEFAULT_WAIT_S = 300.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("send", help="enqueue a task by hand and print its id")
    parser.add_argument("task", help="task name, e.g. tasks.media.process_video_transcode")
    parser.add_argument(
        "args",
        nargs="*",
        help="positional arguments, each read as JSON "
        "when it parses (1024, true, [1,2]) and as a string otherwise",
    )
    parser.add_argument("--countdown", type=float, help="run no earlier than S seconds from now")
    parser.add_argument(
        "--priority",
        type=int,
        help="message priority, within the target queue's declared range (priority queues only)",
    )
    parser.add_argument("--queue", help="send to this declared queue instead of the route's")
    parser.add_argument("--wait", action="store_true", help="wait for the result and print it")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_S,
        help=f"seconds to wait with --wait (default {DEFAULT_WAIT_S:.0f})",
    )
    parser.set_defaults(handler=_send)


def parse_arg(raw: str) -> Any:
    """`1024` is a number, `"mp4"` and `mp4` are strings, `[1, 2]` is a list."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _send(args: argparse.Namespace) -> int:
    from config.app import app
    from routing.declaration import TOPOLOGY

    app.loader.import_default_modules()
    if args.task not in app.tasks:
        known = [name for name in app.tasks if not name.startswith("celery.")]
        close = difflib.get_close_matches(args.task, known, n=3)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else f"; known: {', '.join(sorted(known))}"
        )
        raise SettingsError(f"no task named {args.task!r}{hint}")
    if args.queue is not None:
        TOPOLOGY.queue(args.queue)  # an undeclared queue is an error, never auto-created
    result = app.tasks[args.task].apply_async(
        args=tuple(parse_arg(a) for a in args.args),
        countdown=args.countdown,
        priority=args.priority,
        queue=args.queue,
    )
    print(result.id)
    if args.wait:
        print(json.dumps(result.get(timeout=args.timeout, propagate=False), default=str))
        return 0 if result.successful() else 1
    return 0
