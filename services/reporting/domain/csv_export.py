"""CSV text of a table: plain (comma, decimal point) or for Excel with Dutch settings.

Excel with Dutch regional settings expects `;` between fields and a decimal comma, and only
recognises UTF-8 (for é, ë, ...) when the file starts with a byte order mark.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Dialect = Literal["plain", "excel-nl"]
BOM = "\ufeff"


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def format_value(value: Any, dialect: Dialect, booleans: tuple[str, str] = ("1", "0")) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return booleans[0] if value else booleans[1]
    if isinstance(value, float):
        text = repr(round(value, 6)).removesuffix(".0") if value.is_integer() else repr(round(value, 6))
        return text.replace(".", ",") if dialect == "excel-nl" else text
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


def to_csv(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    dialect: Dialect = "plain",
    headers: Mapping[str, str] | None = None,
    booleans: tuple[str, str] = ("1", "0"),
) -> str:
    """`headers` names the columns for people (the keys stay the columns); `booleans`: how yes/no reads."""
    columns = list(columns) if columns is not None else columns_of(rows)
    buffer = io.StringIO()
    delimiter, prefix = (";", BOM) if dialect == "excel-nl" else (",", "")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([(headers or {}).get(col, col) for col in columns])
    for row in rows:
        writer.writerow([format_value(row.get(col), dialect, booleans) for col in columns])
    return prefix + buffer.getvalue()
