"""The producer API in the chart: its Deployment and what surrounds it, its own broker user
(publish only), its tokens from a Secret, and the checks that refuse an unusable setup."""

from __future__ import annotations

import base64
import json
import urllib.parse

from ops.commands.api import api_argv
from routing.names import PRODUCER_BROKER_USER
from tests.chart.rendering import RELEASE, Helm, Manifest, Render, containers, pod_spec

API = f"{RELEASE}-api"


def env(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}


def secret_value(render: Render, ref: Manifest) -> str:
    secret = render.get("Secret", ref["name"])
    return base64.b64decode(secret["data"][ref["key"]]).decode()


def test_off_by_default(renders: dict[str, Render]) -> None:
    components = {
        o["metadata"]["labels"].get("app.kubernetes.io/component")
        for o in renders["default"].objects
    }
    assert "api" not in components


def test_deployment_serves_switchyard_api_with_http_probes(renders: dict[str, Render]) -> None:
    render = renders["api"]
    (api,) = containers(render.get("Deployment", API))
    assert api["command"] == ["switchyard", *api_argv()[-1:]]
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {p["name"] for p in api["ports"]} == {"http", "metrics"}
    assert "replicas" not in render.get("Deployment", API)["spec"]  # the HPA sizes it
    hpa = render.get("HorizontalPodAutoscaler", API)
    assert hpa["spec"]["scaleTargetRef"]["name"] == API
    assert render.get("PodDisruptionBudget", API)["spec"]["maxUnavailable"] == 1


def test_service_and_ingress_reach_the_http_port(renders: dict[str, Render]) -> None:
    render = renders["api"]
    service = render.get("Service", API)
    assert {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"} in service["spec"][
        "ports"
    ]
    ingress = render.get("Ingress", API)
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "jobs.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": API, "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [
        {"hosts": ["jobs.example.com"], "secretName": "jobs-example-com-tls"}
    ]


def test_it_publishes_as_its_own_user_and_the_hook_creates_that_user(
    renders: dict[str, Render],
) -> None:
    for name in ("api", "in-cluster"):
        render = renders[name]
        (api,) = containers(render.get("Deployment", API))
        broker = env(api)["SWITCHYARD_BROKER_URL"]["valueFrom"]["secretKeyRef"]
        url = urllib.parse.urlsplit(secret_value(render, broker))
        assert url.username == PRODUCER_BROKER_USER, name
        (job,) = render.of_kind("Job")
        hook = pod_spec(job)["initContainers"][0]
        granted = env(hook)["SWITCHYARD_API_BROKER_URL"]["valueFrom"]["secretKeyRef"]
        assert granted == broker, name
    in_cluster = renders["in-cluster"]
    urls = in_cluster.get("Secret", f"{RELEASE}-urls")["data"]
    (api,) = containers(in_cluster.get("Deployment", API))
    ref = env(api)["SWITCHYARD_BROKER_URL"]["valueFrom"]["secretKeyRef"]
    api_password = urllib.parse.urlsplit(secret_value(in_cluster, ref)).password
    pool_passwords = {
        urllib.parse.urlsplit(base64.b64decode(v).decode()).password
        for k, v in urls.items()
        if k.startswith("pool-broker-url-")
    }
    assert api_password not in pool_passwords


def test_tokens_come_from_the_secret(renders: dict[str, Render]) -> None:
    render = renders["api"]
    (api,) = containers(render.get("Deployment", API))
    tokens = json.loads(
        secret_value(render, env(api)["SWITCHYARD_API_TOKENS"]["valueFrom"]["secretKeyRef"])
    )
    assert tokens == {"web": "web-frontend-token-0123456789"}
    existing = renders["existing-secret"]
    (api,) = containers(existing.get("Deployment", API))
    assert (
        env(api)["SWITCHYARD_API_TOKENS"]["valueFrom"]["secretKeyRef"]["name"] == "switchyard-urls"
    )


def test_network_policy_lets_in_the_ingress_controller_and_out_to_broker_and_database(
    renders: dict[str, Render],
) -> None:
    policy = renders["api"].get("NetworkPolicy", API)
    assert policy["spec"]["podSelector"]["matchExpressions"][0]["values"] == ["api"]
    ports_in = {r["ports"][0]["port"]: r.get("from") for r in policy["spec"]["ingress"]}
    assert ports_in[8000][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    ports_out = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports_out == {53, 5672, 5671, 5432}  # no management API


def test_an_unusable_api_setup_fails_the_render_naming_each_key(helm: Helm) -> None:
    error = helm.template_error(sets=["api.enabled=true", "api.ingress.enabled=true"])
    assert "api.tokens" in error
    assert "api.ingress.host" in error
    short = helm.template_error(sets=["api.enabled=true", "api.tokens.web=short"])
    assert "api.tokens.web" in short or "minLength" in short
