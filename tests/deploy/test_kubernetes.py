"""The Kubernetes manifests (kustomize) validate offline in strict mode and wire the platform right."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from shared.secrets import SECRETS
from tests.deploy.envnames import settings_env_names

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "production"
SERVICES = {"registration": 8101, "matching": 8102, "surveys": 8103, "reporting": 8104}


def validator() -> str | None:
    candidate = Path(sysconfig.get_path("scripts")) / "kubernetes-validate"
    return str(candidate) if candidate.exists() else shutil.which("kubernetes-validate")


def kubectl_with_kustomize() -> str | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    probe = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=30)
    return kubectl if "Kustomize Version: v5" in probe.stdout else None


def validate(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([validator(), "--strict", "--quiet", *map(str, files)], capture_output=True, text=True, timeout=120)


def base_resources() -> list[Path]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return [BASE / name for name in kustomization["resources"]]


@functools.cache
def documents() -> tuple[dict, ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for path in base_resources() for doc in yaml.load_all(path.read_text(), Loader=loader) if doc)


def of_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


needs_validator = pytest.mark.skipif(validator() is None, reason="kubernetes-validate not installed (pip install -e '.[test]')")


@needs_validator
def test_every_base_manifest_validates_strictly():
    result = validate(*base_resources())
    assert result.returncode == 0, result.stdout + result.stderr


@needs_validator
def test_the_validator_really_rejects_unknown_fields(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {bogus: 1, ports: [{port: 1}]}\n")
    assert validate(broken).returncode != 0


KUBECTL = kubectl_with_kustomize()


@needs_validator
@pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl with kustomize v5 not on this machine (Debian's kubernetes-client 1.20 is too old); "
    "the base manifests are still validated one by one",
)
def test_production_overlay_renders_with_kustomize_and_validates_strictly(tmp_path):
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    overlay = copy / "overlays" / "production"
    for example in overlay.glob("secrets-*.env.example"):
        shutil.copy(example, overlay / example.name.removesuffix(".example"))
    rendered = subprocess.run([KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    (tmp_path / "rendered.yaml").write_text(rendered.stdout)
    result = validate(tmp_path / "rendered.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert all(d["metadata"].get("namespace") == "girlsday" for d in docs if d["kind"] != "Namespace")
    secrets = {d["metadata"]["name"].rsplit("-", 1)[0] for d in docs if d["kind"] == "Secret"}
    assert secrets == {"girlsday-nats", "girlsday-databases", "girlsday-admin"}


def test_kubernetes_uses_only_environment_variables_the_settings_know():
    known = settings_env_names()
    used = {line.split("=", 1)[0] for line in (BASE / "config.env").read_text().splitlines() if "=" in line}
    for workload in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        for container in containers(workload):
            used |= {e["name"] for e in container.get("env", []) if e["name"].startswith("GIRLSDAY_")}
    assert used - known == set()
    assert {"GIRLSDAY_NATS_URL", "GIRLSDAY_DECLARE_STREAMS", "GIRLSDAY_ADMIN_TOKEN"} <= used


def test_every_service_runs_as_production_with_each_of_its_secrets_from_a_kubernetes_secret():
    config = dict(line.split("=", 1) for line in (BASE / "config.env").read_text().splitlines() if "=" in line)
    assert config["GIRLSDAY_ENVIRONMENT"] == "production"
    example = {
        line.split("=", 1)[0]
        for line in (OVERLAY / "secrets-admin.env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    for name in SERVICES:
        [container] = containers(of_kind("Deployment")[name])
        env = {e["name"]: e for e in container["env"]}
        for secret in SECRETS:
            assert (secret.variable in env) == (name in secret.services), f"{name}: {secret.variable}"
            if secret.variable in env:
                ref = env[secret.variable]["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "girlsday-admin" and ref["key"] in example


def test_each_service_runs_with_its_own_nats_user_database_and_probes_on_healthz():
    deployments = of_kind("Deployment")
    assert set(deployments) == set(SERVICES)
    for name, port in SERVICES.items():
        [container] = containers(deployments[name])
        env = {e["name"]: e for e in container["env"]}
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert env["GIRLSDAY_NATS_URL"]["value"] == f"nats://{name}:$(NATS_PASSWORD)@nats:4222"
        assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == name
        assert env[f"GIRLSDAY_{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == name
        assert container["ports"][0]["containerPort"] == port
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)
        assert of_kind("Service")[name]["spec"]["ports"][0]["port"] == port


def test_registration_and_surveys_scale_horizontally():
    autoscalers = of_kind("HorizontalPodAutoscaler")
    assert set(autoscalers) == {"registration", "surveys"}
    for name, hpa in autoscalers.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] == name and hpa["spec"]["minReplicas"] >= 2
        assert "replicas" not in of_kind("Deployment")[name]["spec"], "the autoscaler owns the replica count"


def test_nats_runs_three_nodes_with_the_tested_config_and_every_password():
    nats = of_kind("StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    for name in ("accounts.conf", "cluster.conf"):
        assert (BASE / "nats" / name).read_text() == (ROOT / "deploy" / "nats" / name).read_text(), (
            f"deploy/k8s/base/nats/{name} must be a copy of deploy/nats/{name}"
        )
    server = containers(nats)[0]
    env_names = {e["name"] for e in server["env"]}
    accounts = (ROOT / "deploy" / "nats" / "accounts.conf").read_text()
    assert set(re.findall(r"\$(NATS_[A-Z_]+_PASSWORD)", accounts)) <= env_names
    keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in server["env"] if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]}
    example = {
        line.split("=", 1)[0]
        for line in (OVERLAY / "secrets-nats.env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert keys == example


def test_postgresql_is_an_external_dependency():
    assert of_kind("Service")["postgres"]["spec"]["type"] == "ExternalName"
    assert "StatefulSet" not in {d["kind"] for d in documents() if d["metadata"]["name"].startswith("postgres")}
