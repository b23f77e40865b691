"""Every staff table downloads as .xlsx and as CSV for Dutch Excel, the same way in every service.

    from shared.exports import Column, download
    columns = [Column("school", "School"), Column("pupils", "Leerlingen", "int"), Column("may_split", "Mag splitsen", "bool")]
    return download(rows, columns, "groepen-girls-day-2027", request.query_params.get("format", "xlsx"))

- Dutch headers (the caller's words), names next to ids (the caller's columns);
- booleans as `ja` / `nee`, dates and times in Europe/Amsterdam (`dd-mm-jjjj uu:mm` in CSV, real
  dates in .xlsx), decimals with a comma in CSV;
- CSV for Dutch Excel: `;` separated, UTF-8 with a byte-order mark, CRLF line ends;
- formula injection: text starting with `=`, `+`, `-`, `@`, tab or carriage return is neutralised
  (CSV: prefixed with `'`, as OWASP advises; .xlsx: stored as text with Excel's quote prefix, so it
  shows unchanged and is never evaluated).
A download of personal data is an auditable action: record it with `shared.audit` (`export.downloaded`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

LOCAL = ZoneInfo("Europe/Amsterdam")
RISKY = ("=", "+", "-", "@", "\t", "\r")
Kind = Literal["text", "int", "float", "bool", "date", "datetime"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = "text"


def neutralise(text: str) -> str:
    return f"'{text}" if text.startswith(RISKY) else text


def _local(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored UTC (SQLite keeps no offset)
    return aware.astimezone(LOCAL)


def text_value(value, kind: Kind) -> str:
    """A cell as CSV text for Dutch Excel."""
    if value is None or value == "":
        return ""
    if kind == "bool" or isinstance(value, bool):
        return "ja" if value else "nee"
    if kind == "datetime" and isinstance(value, datetime):
        return _local(value).strftime("%d-%m-%Y %H:%M")
    if kind == "date" and isinstance(value, date):
        return value.strftime("%d-%m-%Y")
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def csv_bytes(rows: Iterable[dict], columns: Sequence[Column]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(c.header) for c in columns])
    for row in rows:
        writer.writerow([text_value(row.get(c.key), c.kind) for c in columns])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def xlsx_bytes(rows: Iterable[dict], columns: Sequence[Column], sheet: str = "Gegevens") -> bytes:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet[:31])
    bold = Font(bold=True)

    def cell(value, kind: Kind, header: bool = False):
        if value is None or value == "":
            value = None
        elif kind == "bool" or isinstance(value, bool):
            value = "ja" if value else "nee"
        elif kind == "datetime" and isinstance(value, datetime):
            value = _local(value).replace(tzinfo=None)  # Excel has no time zones: Dutch time
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # never a formula
            c.quotePrefix = value.startswith(RISKY)
        if isinstance(value, datetime):
            c.number_format = "dd-mm-yyyy hh:mm"
        elif isinstance(value, date):
            c.number_format = "dd-mm-yyyy"
        if header:
            c.font = bold
        return c

    ws.append([cell(c.header, "text", header=True) for c in columns])
    for row in rows:
        ws.append([cell(row.get(c.key), c.kind) for c in columns])
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def download(rows: Iterable[dict], columns: Sequence[Column], filename: str, fmt: str = "xlsx", *, sheet: str = "Gegevens") -> Response:
    """The table as an attachment: `fmt` "xlsx" (default) or "csv"."""
    safe = "-".join("".join(ch if ch.isalnum() else " " for ch in filename.lower()).split()) or "export"
    if fmt == "csv":
        return Response(
            csv_bytes(rows, columns),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
        )
    return Response(
        xlsx_bytes(rows, columns, sheet), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{safe}.xlsx"'}
    )
