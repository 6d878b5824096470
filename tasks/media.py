"""Media processing: long, CPU-bound work on a priority queue."""

from __future__ import annotations

import socket
import time
from typing import Any

from celery.exceptions import Reject

from config.app import app

FORMATS = frozenset({"mp4", "webm", "mkv"})


@app.task(bind=True)
def process_video_transcode(
    self: Any, video_id: int, target_format: str, simulate_s: float = 0.2
) -> dict[str, Any]:
    """Transcode one video. Idempotent: the output path depends only on the arguments.

    `simulate_s` stands in for the encoder's run time.
    """
    if target_format not in FORMATS:
        raise Reject(f"unknown target format {target_format!r}", requeue=False)
    started_at = time.time()
    time.sleep(simulate_s)
    return {
        "video_id": video_id,
        "format": target_format,
        "output": f"videos/{video_id}.{target_format}",
        "priority": (self.request.delivery_info or {}).get("priority"),
        "started_at": started_at,
        "worker": socket.gethostname(),
    }
