"""Command-line allocation run with a progress display, for large instances.

    python -m services.matching.cli synthetic --scale 10 --mode groups
    python -m services.matching.cli programme gd-2027            # from the service's database

``programme`` stores the run as a proposal, exactly like ``POST /api/programmes/{id}/runs``.
"""

from __future__ import annotations

import asyncio
import json
import time

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="girlsday matching runs", no_args_is_help=True)
console = Console()


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)


def _show(quality: dict, seconds: float) -> None:
    table = Table("figure", "value", title=f"allocation in {seconds:.2f} s")
    for k, v in quality.items():
        if v is not None:
            table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(table)


@app.command()
def synthetic(scale: int = 1, seed: int = 1, mode: str = "groups", max_placed: bool = False) -> None:
    """Generate a seeded national-scale instance (x scale) and allocate it."""
    from services.matching.domain import allocate_groups, allocate_pupils
    from services.matching.synthetic import national

    with _progress() as progress:
        step = progress.add_task(f"generating the x{scale} instance", total=None)
        inst = national(scale, seed)
        progress.update(step, description=f"{len(inst.groups)} groups, {len(inst.pupils)} pupils, "
                                          f"{len(inst.activities)} activities: allocating ({mode})")  # fmt: skip
        t0 = time.perf_counter()
        if mode == "individual":
            result = allocate_pupils(inst.pupils, inst.activities, seed=seed, max_placed=max_placed)
        else:
            result = allocate_groups(inst.groups, inst.activities, seed=seed,
                                     on_step=lambda text: progress.update(step, description=f"group mode: {text}"))  # fmt: skip
        seconds = time.perf_counter() - t0
    _show({k: float(v) if hasattr(v, "item") else v for k, v in result.quality.as_dict().items()}, seconds)


@app.command()
def programme(programme_id: str, seed: int | None = None, max_placed: bool = False) -> None:
    """Run the allocation of a programme from this service's database; stored as a proposal."""
    from services.matching import service
    from services.matching.store import metadata
    from shared import db
    from shared.settings import Settings

    async def main() -> dict:
        settings = Settings()
        url = settings.database_url("matching")
        await db.migrate("matching", url)
        engine = db.create_engine(url)
        try:
            return await service.start_run(db.session_factory(engine), programme_id, seed, max_placed)
        finally:
            await engine.dispose()

    assert metadata is not None
    with _progress() as progress:
        progress.add_task(f"allocating programme {programme_id}", total=None)
        run = asyncio.run(main())
    _show(run["quality"], run["duration_s"])
    console.print(json.dumps({"run_id": run["run_id"], "status": run["status"], "inputs_digest": run["inputs_digest"]}))


if __name__ == "__main__":
    app()
