"""How the release's objects live through install, upgrade, rollback and uninstall: the
Secret is a regular resource, and the topology Job works with `helm --wait`, Argo CD and
Flux unless Helm hooks are asked for."""

from __future__ import annotations

import pytest

from tests.chart.rendering import (
    RELEASE,
    RENDER_NAMES,
    Helm,
    Render,
    pod_spec,
    worker_container,
)

HELM_HOOK = "helm.sh/hook"


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_no_secret_is_a_hook(renders: dict[str, Render], name: str) -> None:
    """A hook Secret is recreated on every upgrade, outlives uninstall with its credentials,
    is not restored by rollback and is missing from `helm get manifest`."""
    for secret in renders[name].of_kind("Secret"):
        annotations = secret["metadata"].get("annotations", {})
        assert not any(key.startswith(HELM_HOOK) for key in annotations), annotations


def test_the_secret_can_be_kept_on_uninstall(helm: Helm) -> None:
    (secret,) = helm.template(sets=["secret.keep=true"]).of_kind("Secret")
    assert secret["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_the_job_is_a_regular_resource_named_by_revision(renders: dict[str, Render]) -> None:
    """Created with the workers, so `helm install --wait` never waits on a hook that runs
    only after the wait; a new name per revision, as a Job's pod template is immutable."""
    for name in RENDER_NAMES:
        (job,) = renders[name].of_kind("Job")
        assert job["metadata"]["name"] == f"{RELEASE}-topology-1"
        annotations = job["metadata"]["annotations"]
        assert not any(key.startswith(HELM_HOOK) for key in annotations)
        assert annotations["argocd.argoproj.io/hook"] == "Sync"
        assert "ttlSecondsAfterFinished" not in job["spec"]


def test_helm_hooks_run_after_install_and_upgrade(helm: Helm) -> None:
    """As hooks, the Job runs once the Secret it reads is installed or upgraded."""
    (job,) = helm.template(sets=["hook.useHelmHooks=true"]).of_kind("Job")
    assert job["metadata"]["name"] == f"{RELEASE}-topology"
    annotations = job["metadata"]["annotations"]
    assert annotations[HELM_HOOK] == "post-install,post-upgrade"
    assert "argocd.argoproj.io/hook" not in annotations


def test_a_finished_job_may_be_cleaned_up(helm: Helm) -> None:
    (job,) = helm.template(sets=["hook.ttlSecondsAfterFinished=3600"]).of_kind("Job")
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600


def test_workers_wait_for_their_queues_and_the_tables(renders: dict[str, Render]) -> None:
    """Created with the Job rather than after it, a worker waits in an init container for
    its own queues (as its own broker user) and the result tables instead of crashing."""
    for name in RENDER_NAMES:
        for pool, deployment in renders[name].worker_deployments().items():
            (wait, *_) = pod_spec(deployment)["initContainers"]
            assert wait["command"][:5] == ["switchyard", "topology", "wait", "--pool", pool]
            worker_env = {e["name"]: e for e in worker_container(deployment)["env"]}
            for env in wait["env"]:
                assert worker_env[env["name"]] == env, (name, pool, env["name"])


def test_the_wait_can_be_turned_off(helm: Helm) -> None:
    render = helm.template(sets=["workers.defaults.waitForTopologySeconds=0"])
    for deployment in render.worker_deployments().values():
        assert "initContainers" not in pod_spec(deployment)
