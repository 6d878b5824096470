"""Secure defaults on every pod of every render: restricted Pod Security, secrets by
reference only, names within 63 characters, network policies around every pod."""

from __future__ import annotations

import base64

import pytest

from config.settings import ENV_PREFIX, Settings
from tests.chart.rendering import (
    RENDER_NAMES,
    Manifest,
    Render,
    as_json,
    containers,
    pod_spec,
)

# Settings of the metrics contract, read by the metrics code rather than config/settings.py.
METRICS_ENV = {"SWITCHYARD_METRICS_PORT", "SWITCHYARD_EXPORTER_PORT", "PROMETHEUS_MULTIPROC_DIR"}
# The secret values written in ci/flower-values.yaml and ci/in-cluster-values.yaml.
SECRET_VALUES = ("broker-secret", "db-secret", "owner-secret", "flower-secret", "dev-only-password")


def _restricted_violations(workload: Manifest) -> list[str]:
    """What the restricted Pod Security Standard (and this chart's defaults) refuse."""
    spec = pod_spec(workload)
    pod_ctx = spec.get("securityContext", {})
    found = []
    if spec.get("automountServiceAccountToken") is not False:
        found.append("service account token mounted")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(key)
    if any("hostPath" in v for v in spec.get("volumes", [])):
        found.append("hostPath volume")
    for c in containers(workload):
        ctx = c.get("securityContext", {})
        where = c["name"]
        if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
            found.append(f"{where}: runAsNonRoot")
        if 0 in (ctx.get("runAsUser"), pod_ctx.get("runAsUser")):
            found.append(f"{where}: runs as uid 0")
        profile = ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}
        if profile.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{where}: seccomp profile")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation")
        if ctx.get("privileged"):
            found.append(f"{where}: privileged")
        caps = ctx.get("capabilities", {})
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{where}: capabilities")
        if ctx.get("readOnlyRootFilesystem") is not True:
            found.append(f"{where}: writable root filesystem")
    return found


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_every_pod_meets_the_restricted_pod_security_standard(
    renders: dict[str, Render], name: str
) -> None:
    violations = {
        f"{w['kind']}/{w['metadata']['name']}": v
        for w in renders[name].workloads()
        if (v := _restricted_violations(w))
    }
    assert violations == {}


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_tmp_is_the_only_writable_path_and_an_empty_dir(
    renders: dict[str, Render], name: str
) -> None:
    for workload in renders[name].workloads():
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for c in containers(workload):
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], c["name"]  # noqa: S108
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            if "PROMETHEUS_MULTIPROC_DIR" in env:
                assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]


def test_no_secret_value_reaches_a_pod_spec(renders: dict[str, Render]) -> None:
    for name in ("flower", "in-cluster"):
        render = renders[name]
        decoded = " ".join(
            base64.b64decode(v).decode()
            for s in render.of_kind("Secret")
            for v in s["data"].values()
        )
        present = [v for v in SECRET_VALUES if v in decoded]
        assert present, f"the {name} values put secrets in the chart's Secret"
        others = as_json([o for o in render.objects if o["kind"] != "Secret"])
        for value in present:
            assert value not in others, f"{value} outside the Secret in {name}"
            assert base64.b64encode(value.encode()).decode() not in others


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_urls_and_credentials_come_from_secret_key_refs(
    renders: dict[str, Render], name: str
) -> None:
    for workload in renders[name].workloads():
        for c in containers(workload):
            for env in c.get("env", []):
                sensitive = env["name"].endswith(("_URL", "_URLS", "_PASSWORD", "BASIC_AUTH"))
                if sensitive:
                    assert "value" not in env, f"{c['name']}: {env['name']} is a literal"
                    assert "secretKeyRef" in env["valueFrom"]


def test_environment_names_are_settings(renders: dict[str, Render]) -> None:
    """Every SWITCHYARD_ variable a pod gets is a field of config.settings.Settings."""
    settings = {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    for render in renders.values():
        for workload in render.workloads():
            for c in containers(workload):
                names = {e["name"] for e in c.get("env", []) if e["name"].startswith(ENV_PREFIX)}
                assert names - METRICS_ENV <= settings, c["name"]


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_every_name_and_label_fits_in_63_characters(renders: dict[str, Render], name: str) -> None:
    for obj in renders[name].objects:
        meta = obj["metadata"]
        assert len(meta["name"]) <= 63, meta["name"]
        labels = dict(meta.get("labels", {}))
        if "template" in obj.get("spec", {}):
            labels.update(obj["spec"]["template"]["metadata"]["labels"])
        assert all(len(str(v)) <= 63 for v in labels.values()), labels


def _selects(policy: Manifest, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_a_network_policy_covers_every_pod(renders: dict[str, Render], name: str) -> None:
    policies = renders[name].of_kind("NetworkPolicy")
    for workload in renders[name].workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in policies if _selects(p, labels)]
        assert len(covering) == 1, workload["metadata"]["name"]
        assert covering[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def _worker_policy(render: Render, pool: str) -> Manifest:
    """The NetworkPolicy that selects the pods of one worker pool."""
    (policy,) = [
        p
        for p in render.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"]["matchLabels"].get("switchyard/pool") == pool
    ]
    return policy


def test_in_cluster_services_narrow_egress_to_their_pods(renders: dict[str, Render]) -> None:
    workers = _worker_policy(renders["in-cluster"], "default")
    peers = [rule.get("to") for rule in workers["spec"]["egress"][1:]]
    components = [
        to[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for to in peers
    ]
    assert components == ["rabbitmq", "postgresql"]
