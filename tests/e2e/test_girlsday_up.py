"""`girlsday up` as a new user runs it: everything starts, answers, and stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from shared.settings import SERVICES
from tests.helpers import free_port


def processes_mentioning(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if text in line and "ps -eo" not in line]


def start_platform(tmp_path, *args: str, **extra_env) -> tuple[subprocess.Popen, dict[str, int]]:
    ports = {service: free_port() for service in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
    env.update({f"GIRLSDAY_{s.upper()}_PORT": str(p) for s, p in ports.items()})
    env.update(GIRLSDAY_DATA_DIR=str(tmp_path / "var"), COLUMNS="200", **extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "up", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return process, ports


def test_up_demo_starts_every_service_on_a_free_nats_port_seeds_a_programme_and_ctrl_c_leaves_no_process(tmp_path):
    process, ports = start_platform(tmp_path, "--demo")
    output = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Ctrl-C stops everything" in line or process.poll() is not None:
                break
        text = "".join(output)
        assert "girlsday is running" in text, text
        assert "nats://127.0.0.1:4222" not in text  # never the default port: no collision
        for service, port in ports.items():
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            assert health.json()["checks"] == {"database": "ok", "nats": "ok"}, service
            assert "girlsday_outbox_pending" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert (tmp_path / "var" / "nats").is_dir() and (tmp_path / "var" / "registration.db").exists()
        assert "demo programme" in text
        login = re.search(r"open (http://\S+/staff) and log in as (\S+) with password (\S+)", text)
        assert login, text  # one staff URL and a demo beheerder to log in with
        staff_url, email, password = login.groups()
        with httpx.Client() as browser:
            answer = browser.post(staff_url + "/login", data={"email": email, "password": password})
            assert answer.status_code == 303 and "gd_staff" in answer.cookies
            assert "Demo Beheerder" in browser.get(staff_url).text
        reporting = f"http://127.0.0.1:{ports['reporting']}/api/summary"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and httpx.get(reporting).json()["schools"] < 24:
            time.sleep(0.2)
        summary = httpx.get(reporting).json()
        assert summary["schools"] == 24 and [p["name"] for p in summary["programmes"]] == ["Girls' Day demo"]
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert "all stopped" in rest
    assert process.returncode == 0
    assert processes_mentioning(str(tmp_path)) == []


def test_up_with_a_port_in_use_stops_with_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, _ = start_platform(tmp_path, GIRLSDAY_REPORTING_PORT=str(port))
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"reporting port {port} (GIRLSDAY_REPORTING_PORT)" in output
    assert "Traceback" not in output


def test_bad_configuration_stops_start_up_with_one_clear_line(tmp_path):
    process, _ = start_platform(tmp_path, GIRLSDAY_NATS_URL="http://wrong")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "GIRLSDAY_NATS_URL" in output and "Traceback" not in output


def test_a_service_started_on_its_own_with_its_port_in_use_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
        env.update(GIRLSDAY_ENVIRONMENT="development", GIRLSDAY_MATCHING_PORT=str(port), GIRLSDAY_DATA_DIR=str(tmp_path))
        result = subprocess.run([sys.executable, "-m", "services.matching"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"girlsday-matching: cannot listen on 127.0.0.1:{port} (Address already in use); set GIRLSDAY_MATCHING_PORT"
    ]
