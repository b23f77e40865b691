"""Background work of the surveys service: refreshing results and sending reminders.

Both run as loops in every replica and are safe to run concurrently: results are recomputed only
when a programme's fingerprint changed, and a reminder is sent once per (programme, school,
phase) because its row's primary key decides who sends it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from shared.contracts import ReminderDue, ResultsUpdated
from shared.outbox import Outbox

from . import store
from .domain.results import Invitation, Response, programme_results
from .domain.rules import ReminderPolicy, Window, WindowPolicy
from .submissions import questionnaire_for

log = logging.getLogger(__name__)


def _effects(figures: dict) -> dict[str, dict]:
    """The flat per-item effect figures the results event carries (suppressed stays suppressed)."""
    out = {}
    for item, block in figures["paired"]["items"].items():
        if block.get("suppressed"):
            out[item] = {"suppressed": block["reason"]}
        elif block["test"] == "mcnemar_exact":
            out[item] = {
                "test": block["test"],
                "n_pairs": block["n_pairs"],
                "shift": block["shift"],
                "ci95_low": block["ci95"][0],
                "ci95_high": block["ci95"][1],
                "p_value": block["p_value"],
            }
        else:
            out[item] = {
                "test": block["test"],
                "n_pairs": block["n_pairs"],
                "mean_shift": block["mean_shift"],
                "ci95_low": block["ci95"][0],
                "ci95_high": block["ci95"][1],
                "p_value": block["p_value"],
                "effect_size": block["effect_size"]["value"],
            }
    return out


_pool: ProcessPoolExecutor | None = None


async def compute(function: Callable, *args):
    """Run `function(*args)` in a worker process: a big programme takes a CPU-second, and doing that
    in the service's process (even in a thread, because of the GIL) would stall its requests."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)
    except BrokenProcessPool:
        _pool = None
        raise


def results_from_database(database_url: str, programme_id: str, pre_items, post_items) -> tuple[dict, dict, dict]:
    """In the worker process: read the programme's rows itself and compute its results.

    Reading there too keeps the service's event loop free: turning 20,000 rows into objects (and
    pickling them over) took a few hundred milliseconds of the service's CPU per refresh, a
    stall every pupil's request felt. Returns (figures, invited per phase, responded per phase).
    """
    return asyncio.run(_read_and_compute(database_url, programme_id, pre_items, post_items))


async def _read_and_compute(database_url: str, programme_id: str, pre_items, post_items) -> tuple[dict, dict, dict]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            inv, res = await store.programme_rows(connection, programme_id)
    finally:
        await engine.dispose()
    figures = programme_results(programme_id, pre_items, post_items, [Invitation(*r) for r in inv], [Response(*r) for r in res])
    invited = {phase: sum(1 for r in inv if r.phase == phase) for phase in ("pre", "post")}
    responded = {phase: sum(1 for r in res if r.phase == phase) for phase in ("pre", "post")}
    return figures, invited, responded


def shutdown_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


async def refresh_results(sessions: async_sessionmaker, outbox: Outbox) -> list[str]:
    """Recompute the results of every programme whose responses or invitations changed."""
    async with sessions() as session:
        current = await store.fingerprints(session)
        stored = dict((await session.execute(select(store.results.c.programme_id, store.results.c.fingerprint))).all())
    changed = [p for p, fp in current.items() if stored.get(p) != fp]
    for programme_id in changed:
        async with sessions() as session:
            row = await store.programme(session, programme_id)
            kind = row.kind if row else None
            pre_q = await questionnaire_for(session, programme_id, kind, "pre")
            post_q = await questionnaire_for(session, programme_id, kind, "post")
        database_url = sessions.kw["bind"].url.render_as_string(hide_password=False)
        figures, invited, responded = await compute(results_from_database, database_url, programme_id, pre_q.items, post_q.items)
        rates = figures["response_rates"]["programme"]
        event = ResultsUpdated(
            programme_id=programme_id,
            invited=invited,
            responded=responded,
            paired=figures["paired"]["n_pairs"] or 0,
            effects=_effects(figures),
        )
        if any(block.get("suppressed") for block in rates.values()):
            # small counts are never shown on their own, not even in the event
            event = event.model_copy(update={"invited": {}, "responded": {}})
        async with sessions() as session, session.begin():
            await store.upsert(
                session,
                store.results,
                {"programme_id": programme_id, "fingerprint": current[programme_id], "figures": figures, "computed_at": store.now()},
                ["programme_id"],
            )
            await outbox.add(session, event)
    return changed


def school_windows(row, policy: WindowPolicy) -> dict[str, Window] | None:
    if row is None:
        return None
    event_date = store.as_date(row.event_date)
    far_past = datetime.min.replace(tzinfo=store.now().tzinfo)
    return {
        "pre": policy.pre(far_past, event_date, store.aware(row.pre_closes)),
        "post": policy.post(event_date, store.aware(row.post_closes)),
    }


async def check_reminders(
    sessions: async_sessionmaker, outbox: Outbox, windows: WindowPolicy, reminders: ReminderPolicy, now: datetime
) -> list[tuple[str, str, str]]:
    """Emit surveys.reminder.due for each school whose open phase lags close to its close."""
    sent = []
    async with sessions() as session:
        counts = await store.counts_per_school(session)
        already = {
            tuple(r)
            for r in (
                await session.execute(select(store.reminders.c.programme_id, store.reminders.c.school_id, store.reminders.c.phase))
            ).all()
        }
        programme_rows = {r.programme_id: r for r in (await session.execute(select(store.programmes))).all()}
    for programme_id, school_id, phase, invited, responded in counts:
        if (programme_id, school_id, phase) in already:
            continue
        ws = school_windows(programme_rows.get(programme_id), windows)
        if ws is None or not reminders.due(ws[phase], now, responded, invited):
            continue
        rate = round(responded / invited, 4)
        async with sessions() as session, session.begin():
            inserted = await store.insert_ignore(
                session,
                store.reminders,
                [
                    {
                        "programme_id": programme_id,
                        "school_id": school_id,
                        "phase": phase,
                        "response_rate": rate,
                        "closes_at": ws[phase].closes,
                        "sent_at": now,
                    }
                ],
                ["programme_id", "school_id", "phase"],
            )
            if inserted:
                await outbox.add(
                    session,
                    ReminderDue(
                        programme_id=programme_id, school_id=school_id, phase=phase, response_rate=rate, closes_at=ws[phase].closes
                    ),
                )
                sent.append((programme_id, school_id, phase))
    return sent


def reminder_policy(threshold: float, lead_days: float) -> ReminderPolicy:
    return ReminderPolicy(threshold=threshold, lead=timedelta(days=lead_days))
