"""The real services run against a nats-server with deploy/nats permissions, as in production:
each with its own NATS user, streams declared only by the init job's user, empty namespace."""

from __future__ import annotations

import contextlib
import importlib
import uuid

import nats
import pytest

from shared.contracts import SchoolRegistered
from shared.settings import SERVICES, Settings
from shared.topology import Topology, declare_streams
from tests.conftest import running
from tests.deploy import natsproc
from tests.helpers import eventually


@pytest.fixture
async def permissioned_nats(tmp_path):
    proc = natsproc.start(natsproc.NATS_DIR / "nats.conf", tmp_path / "nats")
    host_port = proc.client_url.removeprefix("nats://")
    init_job = await nats.connect(f"nats://streams:{natsproc.password_of('streams')}@{host_port}")
    await declare_streams(init_job.jetstream(), Topology())
    await init_job.close()
    yield host_port
    proc.stop()


@pytest.fixture
async def production_like(permissioned_nats, new_database_url, tmp_path):
    urls = {f"{service}_database_url": await new_database_url(service) for service in SERVICES}

    def settings_of(service: str) -> Settings:
        return Settings(
            nats_url=f"nats://{service}:{natsproc.password_of(service)}@{permissioned_nats}",
            namespace="",
            declare_streams=False,
            environment="production",  # with real secrets, as deployed
            data_dir=tmp_path / "var",
            admin_token="deploy-test-admin-token-0123456789abcdef",
            surveys_link_secret="deploy-test-teacher-links-0123456789abcdef",
            staff_session_key="deploy-test-staff-sessions-0123456789abcdef",
            registration_register_key="ZGVwbG95LXRlc3QtcmVnaXN0ZXIta2V5LTAxMjM0NTY",  # 32 bytes, base64
            max_deliver=3,
            _env_file=None,
            **urls,
        )

    @contextlib.asynccontextmanager
    async def start(service: str):
        app = importlib.import_module(f"services.{service}.app").build_app(settings_of(service))
        async with running(app) as client:
            yield client, app.state.runtime

    return start


async def test_every_service_runs_under_its_own_nats_user_and_an_event_reaches_every_consumer(production_like, permissioned_nats, tmp_path):
    async with (
        production_like("registration") as (client, registration),
        production_like("matching") as (c2, _),
        production_like("surveys") as (c3, _),
        production_like("reporting") as (c4, _),
    ):
        for http in (client, c2, c3, c4):
            health = await http.get("/healthz")
            assert health.status_code == 200 and health.json()["checks"] == {"database": "ok", "nats": "ok"}
        # through registration's own outbox and relay, as a route would do it
        school = SchoolRegistered(school_id=str(uuid.uuid4()), brin="12AB", name="Het Baken", level="vo", postcode="3511 AB")
        async with registration.sessions() as session, session.begin():
            await registration.outbox.add(session, school, subject=f"school/{school.school_id}")

        ops = await nats.connect(f"nats://ops:{natsproc.password_of('ops')}@{permissioned_nats}")
        jsm = ops.jetstream()
        try:

            async def all_consumed():
                stream = await jsm.stream_info("REGISTRATION")
                consumers = await jsm.consumers_info("REGISTRATION")
                owners = {c.name.split("-")[0] for c in consumers}
                readers = [c for c in consumers if not c.name.startswith("registration-audit")]  # the audit log reads only *.audit.recorded
                return (
                    stream.state.messages >= 1
                    and owners == {"registration", "matching", "surveys", "reporting"}
                    and all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers)
                    and all(c.ack_floor.stream_seq >= 1 for c in readers)
                )

            await eventually(all_consumed)
            assert (await jsm.stream_info("DEAD_LETTER")).state.messages == 0

            # a malformed event: every consumer moves it to DEAD_LETTER under its own user
            await jsm.publish("registration.school.registered", b"not a cloud event", stream="REGISTRATION")

            async def dead_lettered_by_every_consumer():
                dead = await jsm.stream_info("DEAD_LETTER", subjects_filter=">")
                return {subject.split(".")[1] for subject in (dead.state.subjects or {})} == {"matching", "surveys", "reporting"}

            await eventually(dead_lettered_by_every_consumer)
            await eventually(all_consumed)
        finally:
            await ops.close()
    # the server logs every denied publish or subscribe: the services needed nothing they lack
    violations = [line for line in (tmp_path / "nats" / "nats.log").read_text().splitlines() if "Violation" in line]
    assert violations == []
