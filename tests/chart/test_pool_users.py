"""Each worker pool connects as its own broker user, which the hook Job creates."""

from __future__ import annotations

import base64
import json
import urllib.parse

from routing.declaration import TOPOLOGY
from routing.names import pool_broker_user
from tests.chart.rendering import RELEASE, Helm, Manifest, Render, containers, pod_spec

POOL_URL_ENV = "SWITCHYARD_POOL_BROKER_URL"
POOL_URLS_ENV = "SWITCHYARD_POOL_BROKER_URLS"


def secret_data(render: Render, name: str = f"{RELEASE}-urls") -> dict[str, str]:
    secret = render.get("Secret", name)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def env_ref(container: Manifest, name: str) -> dict[str, str] | None:
    for env in container.get("env", []):
        if env["name"] == name:
            ref: dict[str, str] = env["valueFrom"]["secretKeyRef"]
            return ref
    return None


def user_of(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).username or "")


def test_in_cluster_pools_read_their_own_generated_user(renders: dict[str, Render]) -> None:
    render = renders["in-cluster"]
    data = secret_data(render)
    for pool, deployment in render.worker_deployments().items():
        (worker,) = pod_spec(deployment)["containers"]
        ref = env_ref(worker, POOL_URL_ENV)
        assert ref is not None, pool
        assert user_of(data[ref["key"]]) == pool_broker_user(pool)
    hook = pod_spec(render.get("Job", f"{RELEASE}-topology-1"))["initContainers"][0]
    ref = env_ref(hook, POOL_URLS_ENV)
    assert ref is not None
    granted = json.loads(data[ref["key"]])
    assert sorted(granted) == sorted(p.name for p in TOPOLOGY.pools)
    assert {user_of(url) for url in granted.values()} == {
        pool_broker_user(p.name) for p in TOPOLOGY.pools
    }
    assert len(set(granted.values())) == len(granted)  # one password per pool


def test_only_the_hook_gets_every_pools_credentials(renders: dict[str, Render]) -> None:
    render = renders["in-cluster"]
    for workload in render.workloads():
        for c in containers(workload):
            if env_ref(c, POOL_URLS_ENV) is not None:
                assert c["command"] == ["switchyard", "topology", "declare"], c["name"]


def test_without_pool_urls_workers_share_the_broker_url(renders: dict[str, Render]) -> None:
    for deployment in renders["default"].worker_deployments().values():
        (worker,) = pod_spec(deployment)["containers"]
        assert env_ref(worker, POOL_URL_ENV) is None
    assert not any(k.startswith("pool-broker-url") for k in secret_data(renders["default"]))


def test_pool_urls_from_values_and_from_an_existing_secret(helm: Helm) -> None:
    sets = [
        f"secret.poolBrokerUrls.{p.name}=amqp://{pool_broker_user(p.name)}:pw-{p.name}@rabbit/v"
        for p in TOPOLOGY.pools
    ]
    data = secret_data(helm.template(sets=["secret.brokerUrl=amqp://app:pw@rabbit/v", *sets]))
    for pool in TOPOLOGY.pools:
        assert f":pw-{pool.name}@" in data[f"pool-broker-url-{pool.name}"]
    existing = helm.template(
        sets=["secret.existingSecret=urls", "secret.existingSecretHasPoolBrokerUrls=true"]
    )
    for name, deployment in existing.worker_deployments().items():
        (worker,) = pod_spec(deployment)["containers"]
        assert env_ref(worker, POOL_URL_ENV) == {"name": "urls", "key": f"pool-broker-url-{name}"}


def test_partial_or_unknown_pool_urls_fail_the_render(helm: Helm) -> None:
    first, *rest = TOPOLOGY.pools
    error = helm.template_error(
        sets=[
            f"secret.poolBrokerUrls.{first.name}=amqp://{pool_broker_user(first.name)}:pw@h/v",
            "secret.poolBrokerUrls.no-such-pool=amqp://x:y@h/v",
        ]
    )
    assert "secret.poolBrokerUrls.no-such-pool: routing/declaration.py declares no pool" in error
    for pool in rest:
        assert f'secret.poolBrokerUrls has no URL for pool "{pool.name}"' in error
