"""Parse the CSV lists VHTO already keeps into validated schools/companies, with a per-row report."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .accounts import Company, Contact, School, validate_company, validate_school
from .errors import Violation

SCHOOL_COLUMNS = ("brin", "name", "level", "postcode", "municipality", "contact_name", "contact_email", "contact_phone")
COMPANY_COLUMNS = ("kvk", "name", "sectors", "postcode", "contact_name", "contact_email", "contact_phone")
REQUIRED = {
    "school": ("brin", "name", "level", "postcode", "contact_name", "contact_email"),
    "company": ("kvk", "name", "sectors", "postcode", "contact_name", "contact_email"),
}


@dataclass
class RowResult:
    line: int  # line number in the file (the header is line 1)
    key: str  # BRIN or KvK as given
    status: str  # "valid" | "rejected"; the importer later turns valid into created/unchanged/conflict
    record: School | Company | None = None
    violations: list[Violation] = field(default_factory=list)


@dataclass
class Parsed:
    kind: str
    rows: list[RowResult]
    file_errors: list[Violation] = field(default_factory=list)


def _reader(text: str) -> csv.DictReader:
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Dutch Excel writes ';'
    return csv.DictReader(io.StringIO(text), delimiter=delimiter)


def parse(kind: str, text: str) -> Parsed:
    if kind not in REQUIRED:
        raise ValueError(f"kind must be school or company, not {kind}")
    reader = _reader(text)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        return Parsed(kind, [], [Violation("header", "missing_columns", f"missing columns: {', '.join(missing)}")])
    reader.fieldnames = header
    rows: list[RowResult] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        record, violations = _school(row) if kind == "school" else _company(row)
        key = record.brin if kind == "school" else record.kvk
        if not violations and key in seen:
            violations = [
                Violation(
                    "brin" if kind == "school" else "kvk",
                    "duplicate_in_file",
                    f"same {'BRIN' if kind == 'school' else 'KvK'} as line {seen[key]}",
                )
            ]
        if not violations:
            seen[key] = n
        rows.append(RowResult(n, key, "rejected" if violations else "valid", None if violations else record, violations))
    return Parsed(kind, rows)


def _contact(row: dict) -> Contact:
    return Contact(row.get("contact_name", ""), row.get("contact_email", ""), row.get("contact_phone", ""))


def _school(row: dict) -> tuple[School, list[Violation]]:
    s = School(
        row.get("brin", ""),
        row.get("name", ""),
        row.get("level", ""),
        row.get("postcode", ""),
        row.get("municipality", ""),
        "",
        _contact(row),
    )
    return s, validate_school(s)


def _company(row: dict) -> tuple[Company, list[Violation]]:
    sectors = [x for x in row.get("sectors", "").replace(",", "|").replace(";", "|").split("|") if x.strip()]
    c = Company(row.get("kvk", ""), row.get("name", ""), sectors, row.get("postcode", ""), _contact(row))
    return c, validate_company(c)
