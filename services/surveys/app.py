"""Wiring of the surveys service: database, consumers, routes, background jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from starlette.middleware import Middleware

from shared.erasure import truncate_wal
from shared.retention import EVERY_S
from shared.secrets import secret
from shared.service import Runtime, create_app
from shared.settings import Settings

from . import api, pages, retention
from .config import SurveysConfig
from .context import SurveysContext
from .domain.rules import WindowPolicy
from .fast_response import ROUTE, FastResponseRoute
from .handlers import CONSUMERS
from .jobs import check_reminders, refresh_results, reminder_policy, shutdown_pool
from .links import TeacherKeys
from .store import metadata, now
from .submissions import decider
from .writer import ResponseWriter

DESCRIPTION = """Pre- and post-measurement of Girls' Day and energy-transition programmes.

Pupils answer with a pseudonymous token (one per pupil per phase, 192 random bits) and never give
their name; a pupil under 16 needs recorded parental consent before anything is stored. One response
per token: a second submission is refused (409). Teachers use a signed link VHTO sends them.
"""


def build_app(settings: Settings, config: SurveysConfig | None = None, clock: Callable[[], datetime] = now) -> FastAPI:
    config = config or SurveysConfig()
    runtime = Runtime("surveys", settings, metadata, consumers=list(CONSUMERS))
    windows = WindowPolicy(post_close_days=config.post_close_days)
    ctx = SurveysContext(
        runtime=runtime,
        config=config,
        windows=windows,
        reminders=reminder_policy(config.reminder_threshold, config.reminder_lead_days),
        keys=TeacherKeys(secret(settings, "surveys_link_secret")),
        clock=clock,
        public_url=settings.public_url("surveys"),
        writer=ResponseWriter(runtime.sessions, runtime.outbox, decider(windows)),
    )
    runtime.every(config.results_interval_s, lambda: refresh_results(ctx.sessions, ctx.outbox), "results")
    runtime.every(300, lambda: truncate_wal(runtime.engine), "wal-truncate")  # erased rows leave the -wal file too
    runtime.every(EVERY_S, lambda: retention.expire(runtime), "retention")
    runtime.every(
        config.reminder_interval_s, lambda: check_reminders(ctx.sessions, ctx.outbox, ctx.windows, ctx.reminders, ctx.clock()), "reminders"
    )

    runtime.add_worker(ctx.writer)

    async def stop_jobs(_runtime: Runtime) -> None:  # after the periodic jobs and the writer have stopped
        shutdown_pool()

    runtime.on_stop = [stop_jobs]
    app = create_app(runtime, [api.router, pages.router], title="girlsday surveys", description=DESCRIPTION)
    app.state.surveys = ctx
    # innermost middleware, inside the HTTP metrics: the hot route without FastAPI's per-request work
    route = next(r for r in api.router.routes if r.path == ROUTE and "POST" in r.methods)
    app.user_middleware.append(Middleware(FastResponseRoute, ctx=ctx, route=route))
    return app
