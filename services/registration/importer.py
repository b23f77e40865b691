"""`python -m services.registration import schools|companies FILE.csv`: bulk import with a progress bar.

The file is checked here first (so the report names the file's own line numbers), then the valid
rows go to `POST /api/imports/<kind>` in chunks, each with its own Idempotency-Key: a retried
chunk is answered from the first attempt, and importing the same file again reports every row as
`unchanged`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import uuid
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from services.registration.domain import imports
from services.registration.domain.accounts import Company, School

KINDS = {"schools": "school", "companies": "company"}


def _row(record: School | Company) -> list[str]:
    c = record.contact
    if isinstance(record, School):
        return [record.brin, record.name, record.level, record.postcode, record.municipality, c.name, c.email, c.phone]
    return [record.kvk, record.name, "|".join(record.sectors), record.postcode, c.name, c.email, c.phone]


def _chunk_csv(kind: str, records: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.SCHOOL_COLUMNS if kind == "school" else imports.COMPANY_COLUMNS)
    writer.writerows(_row(r) for r in records)
    return out.getvalue()


async def import_file(
    client: httpx.AsyncClient, kinds: str, text: str, token: str, *, chunk_size: int = 100, console: Console | None = None
) -> dict:
    kind = KINDS[kinds]
    parsed = imports.parse(kind, text)
    report = {
        "kind": kind,
        "created": 0,
        "unchanged": 0,
        "conflict": 0,
        "rejected": 0,
        "rows": [],
        "file_errors": [{"type": v.rule, "field": v.field, "msg": v.message} for v in parsed.file_errors],
    }
    for r in parsed.rows:
        if r.status == "rejected":
            report["rows"].append(
                {
                    "line": r.line,
                    "key": r.key,
                    "status": "rejected",
                    "errors": [{"type": v.rule, "field": v.field, "msg": v.message} for v in r.violations],
                }
            )
    valid = [r for r in parsed.rows if r.status == "valid"]
    run = uuid.uuid4().hex
    progress = Progress(
        TextColumn(f"importing {kinds}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=console is False,
    )
    with progress:
        task = progress.add_task("rows", total=len(parsed.rows))
        progress.advance(task, len(parsed.rows) - len(valid))
        for start in range(0, len(valid), chunk_size):
            chunk = valid[start : start + chunk_size]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv", "Idempotency-Key": f"import-{run}-{start}"}
            for attempt in range(3):
                try:
                    response = await client.post(
                        f"/api/imports/{kinds}", content=_chunk_csv(kind, [r.record for r in chunk]).encode(), headers=headers
                    )
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
            response.raise_for_status()
            for row in response.json()["rows"]:
                row["line"] = chunk[row["line"] - 2].line  # back to the line number in the file
                report["rows"].append(row)
            progress.advance(task, len(chunk))
    report["rows"].sort(key=lambda row: row["line"])
    for row in report["rows"]:
        report[row["status"]] += 1
    return report


def main(argv: list[str]) -> int:
    import asyncio

    parser = argparse.ArgumentParser(prog="python -m services.registration import", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", default=os.environ.get("GIRLSDAY_REGISTRATION_PUBLIC_URL", "http://127.0.0.1:8101"))
    parser.add_argument("--report", type=Path, help="write the full per-row report (with new account secrets) as JSON here")
    parser.add_argument("--chunk-size", type=int, default=100)
    args = parser.parse_args(argv)
    token = os.environ.get("GIRLSDAY_ADMIN_TOKEN", "change-me")
    raw = args.file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")

    async def run() -> dict:
        async with httpx.AsyncClient(base_url=args.url, timeout=60) as client:
            return await import_file(client, args.kind, text, token, chunk_size=args.chunk_size)

    report = asyncio.run(run())
    console = Console()
    table = Table(
        "line",
        "key",
        "status",
        "why",
        title=f"{args.file.name}: {report['created']} created, {report['unchanged']} unchanged, "
        f"{report['conflict']} conflicting, {report['rejected']} rejected",
    )
    for row in report["rows"]:
        if row["status"] in ("conflict", "rejected"):
            table.add_row(str(row["line"]), row["key"], row["status"], "; ".join(f"{e['field']}: {e['msg']}" for e in row["errors"]))
    for error in report["file_errors"]:
        console.print(f"[red]file: {error['msg']}[/red]")
    console.print(table)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
        console.print(f"report written to {args.report}")
    return 1 if report["file_errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
