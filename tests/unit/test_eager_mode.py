"""Eager mode is one setting away: tasks run inline with no broker, database or worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(SWITCHYARD_TASK_ALWAYS_EAGER="true", SWITCHYARD_STACK_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary, output = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == {"records": [4], "count": 5, "mean": 12.0}
    assert output == "videos/1024.mp4"
