"""Imports for staff: upload a CSV or Excel (.xlsx) list of schools or companies, see a verdict per
row before anything is stored, then import. Headers may be Dutch or English, levels words or codes
(domain/imports.py). Imported accounts get no secret in any report: they are welcomed by mail and
log in with a link (the mail outbox), so the page shows only what was created, left or refused.
The uploaded file waits (for the confirmation) in `staff_imports`, emptied once imported; files
never confirmed are removed after a day."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import delete, insert, select, update
from starlette.datastructures import UploadFile

from services.registration import service as cmd
from services.registration.domain import imports
from services.registration.store import staff_imports
from services.registration.tx import read, write
from services.registration.web import kit, lang, t
from shared import audit, staff
from shared.staff import Role, StaffSession

router = APIRouter(include_in_schema=False)
MEDEWERKER = staff.require(Role.medewerker)
KINDS = ("school", "company")
MAX_BYTES = 5 * 1024 * 1024
KEEP = timedelta(days=1)


class FileProblem(Exception):
    """The file cannot be read as a table (the Dutch message key)."""


def read_table(filename: str, data: bytes) -> tuple[list, list[list]]:
    """Header cells and rows of cells of the first sheet of an .xlsx, or of a CSV (`;` or `,`, UTF-8 or cp1252)."""
    if filename.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise FileProblem("import_file_unreadable") from exc
        try:
            rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True) if any(c not in (None, "") for c in r)]
        finally:
            workbook.close()
        return (rows[0], rows[1:]) if rows else ([], [])
    if not filename.lower().endswith((".csv", ".txt")):
        raise FileProblem("import_file_type")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ",")
    rows = [r for r in reader if any(c.strip() for c in r)]
    return (rows[0], rows[1:]) if rows else ([], [])


def parsed_file(kind: str, filename: str, data: bytes) -> imports.Parsed:
    header, rows = read_table(filename, data)
    if not header:
        raise FileProblem("import_file_empty")
    return imports.parse_rows(kind, header, rows)


def _explained(request: Request, report: dict) -> dict:
    """Each row's problems in Dutch (or English), beside the row."""
    for row in report["rows"]:
        row["messages"] = [
            f"{t(request)('import_col_' + _column(e['field']))}: {kit.rule_text(lang(request), e['type'])}" for e in row["errors"]
        ]
    report["file_messages"] = [
        t(request)("import_missing_columns").format(columns=e["msg"].split(": ", 1)[-1]) for e in report["file_errors"]
    ]
    return report


def _column(field: str) -> str:
    """The column a violation's field is in: contact.email -> email, sectors.2 -> sectors."""
    parts = field.split(".")
    return parts[1] if parts[0] == "contact" and len(parts) > 1 else parts[0]


@router.get("/staff/imports")
async def import_form(request: Request, who: StaffSession = MEDEWERKER):
    return kit.render(request, "staff_import.html", v={"kind": request.query_params.get("kind", "school")}, kinds=_kinds(request))


def _kinds(request: Request):
    tr = t(request)
    return [("school", tr("import_kind_school")), ("company", tr("import_kind_company"))]


@router.post("/staff/imports")
async def upload(request: Request, who: StaffSession = MEDEWERKER):
    """Step 1: the file is read and checked; nothing is stored but the file, for step 2."""
    runtime = request.app.state.runtime
    form = await request.form()
    kind, upload_ = str(form.get("kind", "")), form.get("file")
    tr = t(request)
    errors = {}
    if kind not in KINDS:
        errors["kind"] = tr("import_choose_kind")
    if not isinstance(upload_, UploadFile) or not upload_.filename:
        errors["file"] = tr("import_choose_file")
    if errors:
        return kit.render(request, "staff_import.html", 422, errors=errors, v={"kind": kind}, kinds=_kinds(request))
    data = await upload_.read(MAX_BYTES + 1)
    filename = (upload_.filename or "bestand")[-200:]
    try:
        if len(data) > MAX_BYTES:
            raise FileProblem("import_file_too_large")
        parsed = parsed_file(kind, filename, data)
    except FileProblem as problem:
        return kit.render(request, "staff_import.html", 422, errors={"file": tr(str(problem))}, v={"kind": kind}, kinds=_kinds(request))
    import_id = str(uuid.uuid4())

    def keep_and_preview(conn):
        conn.execute(delete(staff_imports).where(staff_imports.c.created_at < datetime.now(UTC) - KEEP))
        conn.execute(
            insert(staff_imports).values(
                id=import_id, kind=kind, filename=filename, content=data, created_by=who.account_id, created_at=datetime.now(UTC)
            )
        )
        return cmd.import_parsed(conn, None, parsed, dry_run=True)

    report = await write(runtime, keep_and_preview)
    return kit.render(
        request, "staff_import_preview.html", 200, report=_explained(request, report), import_id=import_id, filename=filename, kind=kind
    )


@router.post("/staff/imports/{import_id}")
async def confirm(request: Request, import_id: str, who: StaffSession = MEDEWERKER):
    """Step 2: import what the preview showed (checked again: the data may have changed meanwhile)."""
    runtime = request.app.state.runtime
    tr = t(request)

    def run(conn):
        row = conn.execute(select(staff_imports).where(staff_imports.c.id == import_id)).first()
        if row is None:
            return None, None
        if row.done_at is not None:  # sent twice (a double click, a retry): the first import's report
            return row, row.report
        report = cmd.import_parsed(conn, runtime.outbox, parsed_file(row.kind, row.filename, row.content))
        for r in report["rows"]:
            r.pop("account_secret", None)  # welcomed by mail, never by a secret in a report
        conn.execute(
            update(staff_imports).where(staff_imports.c.id == import_id).values(done_at=datetime.now(UTC), content=None, report=report)
        )
        audit.record_sync(
            conn,
            runtime.outbox,
            who,
            "import.completed",
            subject=("import", import_id),
            kind=row.kind,
            file=row.filename,
            created=report["created"],
            unchanged=report["unchanged"],
            conflict=report["conflict"],
            rejected=report["rejected"],
        )
        return row, report

    try:
        row, report = await write(runtime, run)
    except FileProblem:
        row, report = None, None
    if row is None:
        return kit.render(
            request,
            "message.html",
            410,
            title=tr("import_gone"),
            paragraphs=[tr("import_gone_text")],
            link=("/staff/imports?lang=" + lang(request), tr("import_again")),
        )
    return kit.render(request, "staff_import_done.html", 200, report=_explained(request, report), filename=row.filename, kind=row.kind)


@router.get("/staff/imports/{import_id}")
async def after_login(request: Request, import_id: str, who: StaffSession = MEDEWERKER):
    """A confirmation whose session had expired comes back here after the login: ask again."""
    found = await read(
        request.app.state.runtime, lambda conn: conn.execute(select(staff_imports.c.id).where(staff_imports.c.id == import_id)).scalar()
    )
    if found is None:
        return RedirectResponse(f"/staff/imports?lang={lang(request)}", 303)
    return kit.render(
        request,
        "confirm.html",
        title=t(request)("import_confirm_again"),
        consequences=[],
        action=f"/staff/imports/{import_id}?lang={lang(request)}",
        confirm_label=t(request)("import_do"),
        cancel_url=f"/staff/imports?lang={lang(request)}",
    )
