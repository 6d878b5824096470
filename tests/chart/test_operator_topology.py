"""The RabbitMQ operators' objects the chart renders (rabbitmq.cluster.enabled) declare what
`switchyard topology declare` declares: the expectation is built here from `broker_entities`
and `pool_permissions`, not from the generated file the chart reads, so drift anywhere in
between (generator, file, template) fails a test."""

from __future__ import annotations

import base64
import copy
import urllib.parse
from typing import Any

import pytest

from config.broker_node import cluster_config_lines
from routing.declaration import TOPOLOGY
from routing.entities import broker_entities
from routing.model import Topology
from routing.operator_topology import OPERATOR_VHOST
from routing.permissions import pool_permissions
from tests.chart import operator_schemas
from tests.chart.rendering import NAMESPACE, Helm, Manifest, Render, worker_container

RENDER = "operator-cluster"


def _expected(topology: Topology) -> dict[str, Any]:
    entities = broker_entities(topology)
    queues = entities.all_queues
    expected: dict[str, Any] = {
        "Exchange": {},
        "Queue": {},
        "Binding": set(),
        "Permission": {},
        "TopicPermission": {},
    }
    for q in queues:
        args = dict(q.queue_arguments or {})
        expected["Queue"][q.name] = (args["x-queue-type"], bool(q.durable), False, args)
        x = q.exchange
        expected["Exchange"][x.name] = (x.type, bool(x.durable), False, dict(x.arguments or {}))
        expected["Binding"].add((x.name, q.name, "queue", q.routing_key))
    for pool in topology.pools:
        granted = pool_permissions(pool)
        expected["Permission"][granted.user] = (granted.configure, granted.write, granted.read)
        for exchange, write in granted.topic_write.items():
            expected["TopicPermission"][(granted.user, exchange)] = (write, granted.topic_read)
    return expected


def _rendered(objects: list[Manifest]) -> tuple[dict[str, Any], list[str]]:
    """What the rabbitmq.com objects declare, in the shape of _expected, and every object in
    the wrong vhost or cluster."""
    found: dict[str, Any] = {
        "Exchange": {},
        "Queue": {},
        "Binding": set(),
        "Permission": {},
        "TopicPermission": {},
    }
    (cluster,) = [o["metadata"]["name"] for o in objects if o["kind"] == "RabbitmqCluster"]
    misplaced = []
    for o in objects:
        kind, spec = o["kind"], o.get("spec", {})
        if kind not in found:
            continue
        if spec.get("vhost") != OPERATOR_VHOST or spec["rabbitmqClusterReference"] != {
            "name": cluster
        }:
            misplaced.append(f"{kind} {o['metadata']['name']}: vhost/cluster")
        if kind in ("Queue", "Exchange"):
            found[kind][spec["name"]] = (
                spec.get("type"),
                spec.get("durable"),
                spec.get("autoDelete"),
                spec.get("arguments", {}),
            )
        elif kind == "Binding":
            found[kind].add(
                (spec["source"], spec["destination"], spec["destinationType"], spec["routingKey"])
            )
        elif kind == "Permission":
            p = spec["permissions"]
            found[kind][spec["user"]] = (p["configure"], p["write"], p["read"])
        else:
            p = spec["permissions"]
            found[kind][(spec["user"], p["exchange"])] = (p["write"], p["read"])
    return found, misplaced


def differences(objects: list[Manifest], topology: Topology, admin: str) -> list[str]:
    """Every way the rendered objects differ from what the declaration declares."""
    expected = _expected(topology)
    found, problems = _rendered(objects)
    # The application's own administrator user is the chart's, not a pool's.
    found["Permission"].pop(admin, None)
    for kind in ("Exchange", "Queue", "Permission", "TopicPermission"):
        for name in sorted(expected[kind].keys() | found[kind].keys(), key=str):
            want, got = expected[kind].get(name), found[kind].get(name)
            if want != got:
                problems.append(f"{kind} {name}: declared {want}, rendered {got}")
    for binding in sorted(expected["Binding"] ^ found["Binding"]):
        side = "missing" if binding in expected["Binding"] else "not declared"
        problems.append(f"Binding {binding}: {side}")
    return problems


def _secret_data(render: Render, name: str) -> dict[str, str]:
    secret = render.get("Secret", name)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _rabbitmq(render: Render) -> list[Manifest]:
    return [o for o in render.objects if operator_schemas.is_rabbitmq(o)]


def test_every_operator_object_matches_the_declaration(renders: dict[str, Render]) -> None:
    render = renders[RENDER]
    assert differences(_rabbitmq(render), TOPOLOGY, "switchyard-admin") == []
    entities = broker_entities(TOPOLOGY)
    assert len(render.of_kind("Queue")) == len(entities.all_queues)
    assert len(render.of_kind("User")) == len(TOPOLOGY.pools) + 1


def test_the_comparison_reports_each_kind_of_drift(renders: dict[str, Render]) -> None:
    """The check can fail: a changed argument, routing key, regexp, vhost, a lost queue."""
    objects = copy.deepcopy(_rabbitmq(renders[RENDER]))
    queues = [o for o in objects if o["kind"] == "Queue"]
    work = next(q for q in queues if "x-delivery-limit" in q["spec"]["arguments"])
    work["spec"]["arguments"]["x-delivery-limit"] += 1
    next(o for o in objects if o["kind"] == "Binding")["spec"]["routingKey"] = "elsewhere"
    permission = next(
        o for o in objects if o["kind"] == "Permission" and "pool" in o["spec"]["user"]
    )
    permission["spec"]["permissions"]["read"] = ".*"
    next(o for o in objects if o["kind"] == "Exchange")["spec"]["vhost"] = "other"
    objects.remove(queues[-1])
    problems = differences(objects, TOPOLOGY, "switchyard-admin")
    text = "\n".join(problems)
    assert f"Queue {work['spec']['name']}: declared" in text
    assert "'elsewhere')" in text
    assert f"Permission {permission['spec']['user']}: declared" in text
    assert "vhost/cluster" in text
    assert f"Queue {queues[-1]['spec']['name']}: declared" in text
    assert "rendered None" in text
    assert len(problems) == 6  # the changed binding shows as one missing, one not declared


def test_each_user_imports_its_secret_and_each_pool_connects_as_its_user(
    renders: dict[str, Render],
) -> None:
    render = renders[RENDER]
    (cluster,) = render.of_kind("RabbitmqCluster")
    host = f"{cluster['metadata']['name']}.{NAMESPACE}.svc"
    users = {}
    for user in render.of_kind("User"):
        data = _secret_data(render, user["spec"]["importCredentialsSecret"]["name"])
        users[data["username"]] = data
        assert len(data["password"]) == 32
    permitted = {p["spec"]["user"] for p in render.of_kind("Permission")}
    assert permitted == set(users)
    for pool, deployment in render.worker_deployments().items():
        env = {e["name"]: e for e in worker_container(deployment).get("env", [])}
        ref = env["SWITCHYARD_POOL_BROKER_URL"]["valueFrom"]["secretKeyRef"]
        url = urllib.parse.urlsplit(_secret_data(render, ref["name"])[ref["key"]])
        granted = pool_permissions(TOPOLOGY.pool(pool))
        assert (url.username, url.hostname, url.path) == (granted.user, host, "/%2F")
        assert url.password == users[granted.user]["password"]
        assert "SWITCHYARD_POOL_BROKER_URLS" not in env


def test_the_cluster_has_three_nodes_and_the_stacks_settings(renders: dict[str, Render]) -> None:
    (cluster,) = renders[RENDER].of_kind("RabbitmqCluster")
    spec = cluster["spec"]
    assert spec["replicas"] == 3
    assert spec["persistence"] == {"storage": "20Gi", "storageClassName": "fast-ssd"}
    assert "rabbitmq_prometheus" in spec["rabbitmq"]["additionalPlugins"]
    conf = spec["rabbitmq"]["additionalConfig"].splitlines()
    assert "consumer_timeout = 1800000" in conf
    assert "cluster_partition_handling = pause_minority" in conf
    assert set(cluster_config_lines()) <= set(conf)  # the local stack's nodes get the same


def test_every_operator_object_matches_its_vendored_schema(renders: dict[str, Render]) -> None:
    objects = _rabbitmq(renders[RENDER])
    assert {o["kind"] for o in objects} == operator_schemas.KINDS
    assert {o["metadata"]["name"]: operator_schemas.validate(o) for o in objects} == {
        o["metadata"]["name"]: None for o in objects
    }


def test_the_schemas_refuse_a_wrong_type_a_missing_field_and_an_unknown_one(
    renders: dict[str, Render],
) -> None:
    render = renders[RENDER]
    (cluster,) = copy.deepcopy(render.of_kind("RabbitmqCluster"))
    cluster["spec"]["replicas"] = "three"
    queue = copy.deepcopy(render.of_kind("Queue")[0])
    del queue["spec"]["name"]
    permission = copy.deepcopy(render.of_kind("Permission")[0])
    del permission["spec"]["vhost"]
    binding = copy.deepcopy(render.of_kind("Binding")[0])
    binding["spec"]["routing_key"] = binding["spec"].pop("routingKey")
    user = copy.deepcopy(render.of_kind("User")[0])
    user["spec"]["tags"] = ["root"]
    assert "spec.replicas: 'three' is not of type 'integer'" in str(
        operator_schemas.validate(cluster)
    )
    assert "'name' is a required property" in str(operator_schemas.validate(queue))
    assert "'vhost' is a required property" in str(operator_schemas.validate(permission))
    assert "'routing_key' was unexpected" in str(operator_schemas.validate(binding))
    assert "'root' is not one of" in str(operator_schemas.validate(user))


def test_helm_3_and_4_render_the_same_operator_objects(
    each_helm: Helm, renders: dict[str, Render]
) -> None:
    render = each_helm.template(sets=["rabbitmq.cluster.enabled=true"])
    assert differences(_rabbitmq(render), TOPOLOGY, "switchyard-admin") == []
    names = sorted((o["kind"], o["metadata"]["name"]) for o in _rabbitmq(render))
    assert names == sorted((o["kind"], o["metadata"]["name"]) for o in _rabbitmq(renders[RENDER]))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["devServices.rabbitmq.enabled=true", "devServices.password=x"],
            "rabbitmq.cluster.enabled and devServices.rabbitmq.enabled both run a broker",
        ),
        (["secret.brokerUrl=amqp://u:p@h/v"], "secret.brokerUrl is set, but with rabbitmq.cluster"),
        (["fullnameOverride=" + "a" * 43], "more than 45"),
    ],
)
def test_values_that_contradict_the_cluster_fail_the_render(
    helm: Helm, sets: list[str], message: str
) -> None:
    error = helm.template_error(sets=["rabbitmq.cluster.enabled=true", *sets])
    assert message in error


def test_without_the_cluster_no_operator_object_is_rendered(renders: dict[str, Render]) -> None:
    for name, render in renders.items():
        if name != RENDER:
            assert _rabbitmq(render) == []


def test_every_secret_reference_to_the_broker_url_names_a_rendered_secret(helm: Helm) -> None:
    """Workers, beat, the hook, the exporter and KEDA: none is left reading an empty URL."""
    render = helm.template(
        sets=[
            "rabbitmq.cluster.enabled=true",
            "workers.defaults.autoscaling.enabled=true",
            "workers.defaults.autoscaling.kind=keda",
        ]
    )
    urls = []
    for obj in render.objects:
        for ref in _secret_refs(obj):
            if ref["key"] in ("broker-url", "broker-api-url"):
                urls.append(_secret_data(render, ref["name"]).get(ref["key"], ""))
    assert len(urls) > len(TOPOLOGY.pools) + 1
    assert all(url.startswith(("amqp://switchyard-", "http://switchyard-")) for url in urls), urls


def _secret_refs(node: object) -> list[dict[str, str]]:
    """Every secretKeyRef and KEDA secretTargetRef entry under `node`."""
    if isinstance(node, list):
        return [ref for item in node for ref in _secret_refs(item)]
    if not isinstance(node, dict):
        return []
    refs = [node["secretKeyRef"]] if "secretKeyRef" in node else []
    refs += node.get("secretTargetRef", [])
    return refs + [
        ref for key, v in node.items() if key != "secretKeyRef" for ref in _secret_refs(v)
    ]
