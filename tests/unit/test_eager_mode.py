"""Eager mode is one setting away: tasks run inline with no broker, database or worker."""

from __future__ import annotations

from pathlib import Path

from tests.unit.eager_app import run_eager

SCRIPT = """
import json
from tasks.analytics import summary_chain
from tasks.media import process_video_transcode
print(json.dumps([
    summary_chain(4).apply_async().get(),
    process_video_transcode.delay(1024, "mp4", simulate_s=0).get()["output"],
]))
"""


def test_tasks_run_inline_with_eager_mode(tmp_path: Path) -> None:
    summary, output = run_eager(SCRIPT, tmp_path)
    assert summary == {"records": [4], "count": 5, "mean": 12.0}
    assert output == "videos/1024.mp4"
