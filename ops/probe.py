"""The pods' exec probe: is this container's worker live (and ready)? `os` and `sys` only.

Kubernetes runs it every few seconds in every worker pod, a new interpreter each time, so it
imports no Celery, pydantic or SQLAlchemy, nor `pathlib` (docs/probes.md has the figures):
`switchyard-health` or `python -m ops.probe`, with the options of `switchyard health` and
the same verdict. The health directory is found as the settings find
it (`SWITCHYARD_HEALTH_DIR` in the environment, else in the local stack's env file, else the
default); a unit test holds the two lookups together.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from config.paths import ENV_PREFIX, STACK_ENV_FILE, stack_dir_path
from execution.health_files import DEFAULT_HEALTH_DIR, HealthFiles

HEALTH_DIR_VARIABLE = f"{ENV_PREFIX}HEALTH_DIR"
DEFAULT_MAX_AGE_S = 120.0
USAGE = (
    "usage: switchyard-health [--ready] [--max-age S]\n"
    "exit 0 when this container's worker is live (with --ready: and consuming), else 1; "
    f"S is the oldest acceptable liveness file in seconds (default {DEFAULT_MAX_AGE_S:.0f})"
)


def env_file_values(path: str) -> dict[str, str]:
    """`NAME=value` lines of an env file, as python-dotenv reads the simple cases.

    Blank lines and `#` comments are skipped, `export ` is dropped, and one pair of
    matching quotes around a value is removed. A missing file has no values.
    """
    try:
        with open(path) as env_file:
            text = env_file.read()
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name.strip()] = value
    return values


def _lookup(name: str, values: Mapping[str, str]) -> str | None:
    """`name` in `values`, compared case-insensitively as pydantic-settings does."""
    wanted = name.lower()
    return next((v for k, v in values.items() if k.lower() == wanted), None)


def health_dir(environ: Mapping[str, str] = os.environ) -> str:
    """The health directory: the environment, then the stack's env file, then the default."""
    found = _lookup(HEALTH_DIR_VARIABLE, environ)
    if found is None:
        env_file = os.path.join(stack_dir_path(), STACK_ENV_FILE)
        found = _lookup(HEALTH_DIR_VARIABLE, env_file_values(env_file))
    return DEFAULT_HEALTH_DIR if found is None else found


def check(max_age_s: float, *, ready: bool, directory: str | None = None) -> int:
    """Exit status of the probe: 0 and `live`/`ready` on stdout, or 1 and the reason."""
    files = HealthFiles(directory if directory is not None else health_dir())
    problem = files.problem(max_age_s, need_ready=ready)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("ready" if ready else "live")
    return 0


def parse(argv: Sequence[str]) -> tuple[float, bool]:
    """(max age, ready) from `[--ready] [--max-age S]`; ValueError names what is wrong.

    Parsed by hand: `argparse` alone would cost the probe a quarter of its CPU time.
    """
    max_age_s, ready = DEFAULT_MAX_AGE_S, False
    rest = list(argv)
    while rest:
        option = rest.pop(0)
        name, _, inline = option.partition("=")
        if option == "--ready":
            ready = True
        elif name == "--max-age":
            text = inline if inline else (rest.pop(0) if rest else "")
            try:
                max_age_s = float(text)
            except ValueError:
                raise ValueError(f"--max-age needs a number of seconds, not {text!r}") from None
        else:
            raise ValueError(f"unknown argument {option!r}")
    return max_age_s, ready


def main(argv: Sequence[str] | None = None) -> int:
    """`switchyard-health [--ready] [--max-age S]`: 0 when live (and ready), 1 when not."""
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    try:
        max_age_s, ready = parse(args)
    except ValueError as exc:
        print(f"{USAGE}\nswitchyard-health: {exc}", file=sys.stderr)
        return 2
    return check(max_age_s, ready=ready)


if __name__ == "__main__":
    sys.exit(main())
