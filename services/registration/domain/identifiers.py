"""Formats of the identifiers schools, companies and contacts give us; each returns the normal form."""

from __future__ import annotations

import re

from .errors import Violation

BRIN = re.compile(r"^\d{2}[A-Z]{2}$")
KVK = re.compile(r"^\d{8}$")
POSTCODE = re.compile(r"^(\d{4}) ?([A-Z]{2})$")
# Deliberately modest: one @, no spaces, a dot in the domain, total length within RFC 5321.
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{8,18}[0-9]$")
PUPIL_REF = re.compile(r"^[A-Za-z0-9_-]{2,24}$")

LEVELS = ("po", "vo", "mbo")
SECTORS = (
    "ict",
    "engineering",
    "energy",
    "construction",
    "science",
    "healthcare_technology",
    "manufacturing",
    "logistics",
    "mobility",
    "water",
    "agriculture_food",
    "design",
    "finance_tech",
    "defence_safety",
    "other",
)


class RuleError(ValueError):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message

    def at(self, field: str) -> Violation:
        return Violation(field, self.rule, self.message)


def brin(value: str) -> str:
    v = "".join(value.split()).upper()
    if not BRIN.match(v):
        raise RuleError("brin_format", "BRIN must be 2 digits followed by 2 letters, e.g. 12AB")
    return v


def kvk(value: str) -> str:
    """8 digits; spaces and dots people copy from the Chamber of Commerce extract are ignored."""
    v = "".join(value.split()).replace(".", "")
    if not KVK.match(v):
        raise RuleError("kvk_format", "KvK number must be exactly 8 digits, e.g. 12345678")
    return v


def postcode(value: str) -> str:
    m = POSTCODE.match(value.strip().upper())
    if not m:
        raise RuleError("postcode_format", "Dutch postcode must be 4 digits and 2 letters, e.g. 1234 AB")
    return f"{m.group(1)} {m.group(2)}"


def email(value: str) -> str:
    v = value.strip()
    if len(v) > 254 or not EMAIL.match(v):
        raise RuleError("email_format", "e-mail address is not valid, e.g. naam@school.nl")
    local, _, domain = v.rpartition("@")
    if len(local) > 64:
        raise RuleError("email_format", "e-mail address is not valid, e.g. naam@school.nl")
    return f"{local}@{domain.lower()}"


def phone(value: str) -> str:
    v = value.strip()
    if not PHONE.match(v):
        raise RuleError("phone_format", "phone number must have 10 to 15 digits, e.g. 020 123 4567")
    return v


def level(value: str) -> str:
    v = value.strip().lower()
    if v not in LEVELS:
        raise RuleError("level_unknown", f"school level must be one of {', '.join(LEVELS)}")
    return v


def sector(value: str) -> str:
    v = value.strip().lower()
    if v not in SECTORS:
        raise RuleError("sector_unknown", f"sector must be one of {', '.join(SECTORS)}")
    return v


def pupil_ref(value: str) -> str:
    v = value.strip()
    if not PUPIL_REF.match(v):
        raise RuleError("pupil_ref_format", "pupil code must be 2-24 letters, digits, - or _ (a code, never a name)")
    return v


def check(field: str, fn, value, out: list[Violation]):
    """Run one normaliser; on failure record the violation and return the value unchanged."""
    try:
        return fn(value)
    except RuleError as e:
        out.append(e.at(field))
        return value
