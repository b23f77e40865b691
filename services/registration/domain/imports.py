"""Parse the lists VHTO already keeps (CSV or spreadsheet rows) into validated schools/companies,
with a per-row report. Column headers may be Dutch or English (BRIN, Naam, Onderwijstype, Postcode,
Plaats, Contactpersoon, E-mail, Telefoon, KvK-nummer, Sectoren ...), levels words or codes
(basisonderwijs / po, voortgezet onderwijs / vo, mbo), sectors Dutch words or codes."""

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


# Every header we understand, normalised (lower case, no spaces, dots, dashes or underscores) -> column.
HEADER_ALIASES = {
    "brin": ("brin", "brincode", "brinnummer", "brinnr"),
    "kvk": ("kvk", "kvknummer", "kvknr", "kamervankoophandel", "chamberofcommerce"),
    "name": ("name", "naam", "schoolnaam", "naamschool", "bedrijfsnaam", "naambedrijf", "organisatie", "school", "bedrijf", "company"),
    "level": ("level", "onderwijstype", "typeonderwijs", "onderwijssoort", "soortonderwijs", "niveau", "schooltype"),
    "postcode": ("postcode", "postalcode", "zip", "zipcode"),
    "municipality": ("municipality", "plaats", "gemeente", "woonplaats", "vestigingsplaats", "city", "town", "place"),
    "contact_name": ("contactname", "contactpersoon", "naamcontactpersoon", "contact", "contactpersonname", "contactperson"),
    "contact_email": ("contactemail", "email", "emailadres", "emailcontactpersoon", "mail", "emailaddress"),
    "contact_phone": ("contactphone", "telefoon", "telefoonnummer", "tel", "telnr", "phone", "phonenumber", "mobiel"),
    "sectors": ("sectors", "sectoren", "sector", "branche", "branches"),
}
_HEADERS = {alias: column for column, aliases in HEADER_ALIASES.items() for alias in aliases}
LEVEL_WORDS = {
    "po": "po",
    "primair onderwijs": "po",
    "primair": "po",
    "basisonderwijs": "po",
    "basisschool": "po",
    "primary": "po",
    "primary school": "po",
    "vo": "vo",
    "voortgezet onderwijs": "vo",
    "voortgezet": "vo",
    "middelbare school": "vo",
    "secondary": "vo",
    "secondary school": "vo",
    "vmbo": "vo",
    "havo": "vo",
    "vwo": "vo",
    "havo/vwo": "vo",
    "gymnasium": "vo",
    "mbo": "mbo",
    "middelbaar beroepsonderwijs": "mbo",
    "vocational": "mbo",
}
SECTOR_WORDS = {
    "ict": "ict",
    "it": "ict",
    "techniek": "engineering",
    "technology": "engineering",
    "energie": "energy",
    "bouw": "construction",
    "wetenschap": "science",
    "wetenschap en onderzoek": "science",
    "onderzoek": "science",
    "zorgtechnologie": "healthcare_technology",
    "zorg": "healthcare_technology",
    "maakindustrie": "manufacturing",
    "industrie": "manufacturing",
    "logistiek": "logistics",
    "mobiliteit": "mobility",
    "agri en food": "agriculture_food",
    "agrifood": "agriculture_food",
    "voeding": "agriculture_food",
    "ontwerp": "design",
    "financiële technologie": "finance_tech",
    "fintech": "finance_tech",
    "defensie": "defence_safety",
    "defensie en veiligheid": "defence_safety",
    "veiligheid": "defence_safety",
    "anders": "other",
    "overig": "other",
}


def header_key(header: str) -> str:
    """The column a header names ('E-mailadres' -> contact_email), or the header normalised if unknown."""
    plain = "".join(ch for ch in header.strip().lower() if ch.isalnum())
    return _HEADERS.get(plain, plain)


def level_code(text: str) -> str:
    word = " ".join(text.strip().lower().replace("(", " ").replace(")", " ").split())
    return LEVEL_WORDS.get(word, text.strip())


def sector_code(text: str) -> str:
    word = " ".join(text.strip().lower().split())
    return SECTOR_WORDS.get(word, word.replace(" ", "_"))


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
    """A CSV text (`;` or `,`), header on line 1."""
    reader = _reader(text)
    return parse_rows(kind, list(reader.fieldnames or []), ([raw.get(h) for h in (reader.fieldnames or [])] for raw in reader))


def parse_rows(kind: str, header: list, rows) -> Parsed:
    """A table: its header cells and its rows of cells (from CSV or a spreadsheet), line 1 the header."""
    if kind not in REQUIRED:
        raise ValueError(f"kind must be school or company, not {kind}")
    header = [header_key(str(h or "")) for h in header]
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        return Parsed(kind, [], [Violation("header", "missing_columns", f"missing columns: {', '.join(missing)}")])
    results: list[RowResult] = []
    seen: dict[str, int] = {}
    for n, cells in enumerate(rows, start=2):
        row = {}
        for key, value in zip(header, cells):
            if key and key not in row:
                row[key] = _text(value)
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
        results.append(RowResult(n, key, "rejected" if violations else "valid", None if violations else record, violations))
    return Parsed(kind, results)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet's number 12345678 (a KvK number), not 12345678.0
    return str(value).strip()


def _contact(row: dict) -> Contact:
    return Contact(row.get("contact_name", ""), row.get("contact_email", ""), row.get("contact_phone", ""))


def _school(row: dict) -> tuple[School, list[Violation]]:
    s = School(
        row.get("brin", ""),
        row.get("name", ""),
        level_code(row.get("level", "")),
        row.get("postcode", ""),
        row.get("municipality", ""),
        "",
        _contact(row),
    )
    return s, validate_school(s)


def _company(row: dict) -> tuple[Company, list[Violation]]:
    sectors = [sector_code(x) for x in row.get("sectors", "").replace(",", "|").replace(";", "|").split("|") if x.strip()]
    c = Company(row.get("kvk", ""), row.get("name", ""), sectors, row.get("postcode", ""), _contact(row))
    return c, validate_company(c)
