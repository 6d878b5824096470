"""Celery settings that are the same in every deployment, and why each is set."""

from __future__ import annotations

from typing import Any

HEARTBEAT_S = 10

FIXED: dict[str, Any] = {
    # JSON only, both ways: a pickle payload is refused and a result is never unpickled.
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
    "event_serializer": "json",
    # Publisher confirms: a publish the broker refuses raises instead of vanishing.
    # Socket timeouts of two heartbeats: a synchronous call (a confirm, a cancel while
    # reconnecting) on a connection that went silent fails instead of hanging forever.
    "broker_transport_options": {
        "confirm_publish": True,
        "read_timeout": 2 * HEARTBEAT_S,
        "write_timeout": 2 * HEARTBEAT_S,
    },
    # AMQP heartbeats, so a dead or hung broker connection is noticed within two beats.
    "broker_heartbeat": HEARTBEAT_S,
    "broker_connection_retry_on_startup": True,
    "broker_connection_max_retries": None,
    # Acknowledge after the task ran and hand the message back if the child died; quorum
    # queues' delivery limit bounds how often that can happen before it is dead-lettered.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "task_acks_on_failure_or_timeout": True,
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    # A new pool child (after a cancelled task, a crash or max-tasks-per-child) that has not
    # said it is up within this many seconds is killed. Celery's 4 s is too short on a busy
    # node (importing the app takes longer), and a job handed to a child killed so was seen
    # in the fault suite to stay "received", unacked and never run, until the worker stopped.
    "worker_proc_alive_timeout": 60.0,
    # Bad input is dead-lettered with a reason; the worker stays up.
    "worker_consumer": "deadletter.consumer:DeadLetteringConsumer",
    # Results and state.
    "task_track_started": True,
    "result_extended": False,
    "result_expires": 7 * 24 * 3600,
    "database_create_tables_at_setup": False,
    # Workers: no remote-control chatter that nobody listens to.
    "worker_send_task_events": False,
    "task_send_sent_event": False,
    "worker_enable_remote_control": True,
    # The remote-control queue is not exclusive: after a silent network cut the broker still
    # holds the old connection when the worker reconnects, and an exclusive queue would make
    # the worker exit with RESOURCE_LOCKED. It expires once no worker uses it.
    "control_queue_exclusive": False,
    "control_queue_expires": 60.0,
    "enable_utc": True,
    "timezone": "UTC",
}
