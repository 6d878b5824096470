"""`switchyard dlq list | show QUEUE | replay QUEUE [--limit N] [--dry-run] | purge QUEUE --yes`."""

from __future__ import annotations

import argparse
from collections import Counter

from config.settings import SettingsError, get_settings
from ops import dlq


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("dlq", help="inspect, replay or purge dead-letter queues")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="depth of every dead-letter queue").set_defaults(handler=_list)
    show = actions.add_parser("show", help="each message's task, reason and death count")
    show.add_argument("queue")
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(handler=_show)
    replay = actions.add_parser("replay", help="republish messages to the queue they came from")
    replay.add_argument("queue")
    replay.add_argument(
        "--limit", type=int, help="at most N messages (default: all the queue holds now)"
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="show what would be replayed or parked; move nothing"
    )
    replay.add_argument(
        "--max-replays",
        type=int,
        default=None,
        help="park a message replayed this often already (default: SWITCHYARD_DLQ_MAX_REPLAYS)",
    )
    replay.set_defaults(handler=_replay)
    purge = actions.add_parser("purge", help="delete every message of a dead-letter queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="really delete them")
    purge.set_defaults(handler=_purge)


def _url() -> str:
    settings = get_settings()
    settings.require("broker_url")
    return settings.broker_url


def _queue(name: str) -> str:
    try:
        dlq.check_queue(name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return name


def _list(_: argparse.Namespace) -> int:
    with dlq.channel(_url()) as ch:
        depths = dlq.depths(ch)
    print(f"{'QUEUE':<22}MESSAGES")
    for queue, depth in depths.items():
        print(f"{queue:<22}{depth}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with dlq.channel(_url()) as ch:
        letters = dlq.show(ch, _queue(args.queue), args.limit)
    print(f"{'TASK':<44}{'ID':<38}{'DEATHS':<8}{'REPLAYS':<9}REASON")
    for letter in letters:
        print(
            f"{letter.task:<44}{letter.task_id:<38}{letter.deaths:<8}{letter.replays:<9}"
            f"{letter.reason}"
        )
    by_reason = Counter(letter.reason.split(":")[0] for letter in letters)
    print(
        f"{len(letters)} shown; by reason: "
        + ", ".join(f"{k} x{v}" for k, v in by_reason.most_common())
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    max_replays = get_settings().dlq_max_replays if args.max_replays is None else args.max_replays
    with dlq.channel(_url()) as ch:
        report = dlq.replay(
            ch, _queue(args.queue), args.limit, max_replays=max_replays, dry_run=args.dry_run
        )
    for line in report.lines():
        print(line)
    if not args.dry_run:
        print("each message was removed from the queue after the broker confirmed its copy")
    return 0


def _purge(args: argparse.Namespace) -> int:
    queue = _queue(args.queue)
    if not args.yes:
        raise SettingsError(f"purging {queue} deletes its messages for good; add --yes")
    with dlq.channel(_url()) as ch:
        count = dlq.purge(ch, queue)
    print(f"purged {count} message(s) from {queue}")
    return 0
