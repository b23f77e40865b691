"""Schools and companies register once; each gets an account secret, of which we keep only a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from . import identifiers as ids
from .errors import Violation


@dataclass
class Contact:
    name: str
    email: str
    phone: str = ""


@dataclass
class School:
    brin: str
    name: str
    level: str
    postcode: str
    municipality: str = ""
    province: str = ""
    contact: Contact = field(default_factory=lambda: Contact("", ""))


@dataclass
class Company:
    kvk: str
    name: str
    sectors: list[str]
    postcode: str
    contact: Contact = field(default_factory=lambda: Contact("", ""))


def _contact(c: Contact, out: list[Violation]) -> None:
    if not c.name.strip():
        out.append(Violation("contact.name", "required", "contact name must not be empty"))
    c.email = ids.check("contact.email", ids.email, c.email, out)
    if c.phone:
        c.phone = ids.check("contact.phone", ids.phone, c.phone, out)


def validate_school(s: School) -> list[Violation]:
    """Validate and normalise in place (BRIN upper case, postcode `1234 AB`, ...)."""
    out: list[Violation] = []
    s.brin = ids.check("brin", ids.brin, s.brin, out)
    if not s.name.strip():
        out.append(Violation("name", "required", "name must not be empty"))
    s.level = ids.check("level", ids.level, s.level, out)
    s.postcode = ids.check("postcode", ids.postcode, s.postcode, out)
    _contact(s.contact, out)
    return out


def validate_company(c: Company) -> list[Violation]:
    out: list[Violation] = []
    c.kvk = ids.check("kvk", ids.kvk, c.kvk, out)
    if not c.name.strip():
        out.append(Violation("name", "required", "name must not be empty"))
    if not c.sectors:
        out.append(Violation("sectors", "required", "name at least one sector"))
    c.sectors = [ids.check(f"sectors.{i}", ids.sector, s, out) for i, s in enumerate(c.sectors)]
    c.postcode = ids.check("postcode", ids.postcode, c.postcode, out)
    _contact(c.contact, out)
    return out


def new_secret() -> str:
    return "gds_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, not passwords: a plain SHA-256 cannot be brute-forced and lets
    # every request authenticate by an indexed lookup instead of a deliberately slow KDF.
    return hashlib.sha256(secret.encode()).hexdigest()
