"""A project-local Prometheus: the OS package's binary, its config and data under the stack.

It scrapes what a local run serves (every pool, beat, the queue exporter and RabbitMQ's own
endpoint) and evaluates the generated alert rules. A running server is reloaded, not
restarted, when its targets change. The tests start their own, on a private directory and
port, with short scrape and evaluation intervals.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metrics.yaml_text import dump
from ops.stack import layout as L
from ops.stack.accounts import StackError
from ops.stack.packages import prometheus
from ops.stack.processes import is_ours, port_open, stop, wait_until

START_TIMEOUT_S = 60
# Started servers outlive the call that started them; the handles are kept for reaping.
_DETACHED: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class ScrapeTarget:
    """One endpoint to scrape; `labels` are attached to every series it serves."""

    job: str
    address: str
    labels: dict[str, str] = field(default_factory=dict)


class PrometheusServer:
    """One Prometheus under `directory`, listening on loopback `port`."""

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        scrape_interval: str = "15s",
        evaluation_interval: str = "15s",
    ) -> None:
        self.dir = directory
        self.port = port
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval

    @classmethod
    def local(cls, stack: L.StackLayout) -> PrometheusServer:
        return cls(stack.root / "prometheus", stack.ports.prometheus)

    @property
    def url(self) -> str:
        return f"http://{L.HOST}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.dir / "prometheus.yml"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def pid_file(self) -> Path:
        return self.dir / "prometheus.pid"

    @property
    def log(self) -> Path:
        return self.dir / "prometheus.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if is_ours(pid, str(self.data_dir)) else None

    def configure(self, targets: list[ScrapeTarget], rules: dict[str, str]) -> None:
        """Write the config and the rule files (name -> YAML text) it loads."""
        rules_dir = self.dir / "rules"
        shutil.rmtree(rules_dir, ignore_errors=True)
        rules_dir.mkdir(parents=True)
        for name, text in rules.items():
            (rules_dir / name).write_text(text)
        jobs: dict[str, list[dict[str, Any]]] = {}
        for target in targets:
            jobs.setdefault(target.job, []).append(
                {"targets": [target.address], "labels": target.labels}
            )
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(rules_dir / name) for name in rules],
            "scrape_configs": [
                {"job_name": job, "static_configs": static} for job, static in jobs.items()
            ],
        }
        self.config_file.write_text(dump(config))

    def start(self) -> bool:
        """Start unless running (then reload the config); True when this call started it.

        Raises:
            StackError: the port is taken by another process or the server did not come up.
        """
        if self.pid() is not None:
            self.reload()
            return False
        if port_open(L.HOST, self.port):
            raise StackError(f"port {self.port} on {L.HOST} is taken by another process")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(prometheus()),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={L.HOST}:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=7d",
        ]
        with open(self.log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _DETACHED.append(popen)
        self.pid_file.write_text(f"{popen.pid}\n")
        if (
            not wait_until(
                lambda: popen.poll() is not None or self.ready(), START_TIMEOUT_S, interval=0.2
            )
            or not self.ready()
        ):
            raise StackError(f"Prometheus did not start:\n{self._log_tail()}")
        return True

    def reload(self) -> None:
        self._request("/-/reload", method="POST")

    def stop(self) -> bool:
        pid = self.pid()
        return stop(pid, str(self.data_dir), signal.SIGTERM, timeout=30) if pid else False

    def ready(self) -> bool:
        try:
            self._request("/-/ready")
        except StackError:
            return False
        return True

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now (HTTP API `/api/v1/query`)."""
        body = self._request("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
        return result

    def _request(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310 - http
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                payload: bytes = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise StackError(f"Prometheus {method} {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StackError(f"Prometheus at {self.url} does not answer: {exc}") from None
        return payload

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""
