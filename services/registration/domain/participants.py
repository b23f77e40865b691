"""The ESF+ participant register of energy-transition programmes: who took part, as the Dutch ESF+
project administration asks for it, and the common output indicators it reports.

Participants are adults (and mbo students from 16): never pupils. The register keeps, per
participant and programme, the person number (BSN, or the onderwijsnummer of someone without one),
name, date of birth only where the target group needs it, gender (non-binary included), age band,
education level (ISCED band) and labour-market status at entry, target group, and the first and last
activity dates. A second registration with the same person number is the same participant: one
record, the earliest first and the latest last activity date kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date

from stdnum.nl import bsn as bsn_number
from stdnum.nl import onderwijsnummer as onderwijs_number

from .errors import Violation

GENDERS = ("female", "male", "non_binary")
ISCED_BANDS = ("0-2", "3-4", "5-8")
LABOUR_STATUSES = ("employed", "self_employed", "unemployed", "long_term_unemployed", "inactive", "in_education")
AGE_BANDS = ("<18", "18-29", "30-54", "55+")
# Target groups and the youngest age each admits: mbo and hbo students from 16 (they register
# themselves, no parental consent involved); everyone else is an adult.
TARGET_GROUPS = {"student_mbo": 16, "student_hbo": 16, "career_switcher": 18, "employee": 18, "team_leader": 18}
# The target groups for which the administration needs the date of birth itself (youth measures);
# for the others the age band at entry is enough, and we collect no more than that.
NEEDS_BIRTH_DATE = frozenset({"student_mbo", "student_hbo"})
# The common output indicators of labour-market status at entry, as the ESF+ regulation defines
# them: the unemployed include the long-term unemployed, the employed the self-employed, and the
# inactive those in education.
STATUS_INDICATORS = {
    "unemployed": {"unemployed", "long_term_unemployed"},
    "long_term_unemployed": {"long_term_unemployed"},
    "inactive": {"inactive", "in_education"},
    "employed": {"employed", "self_employed"},
}
INDICATORS = (
    "participants",
    *(f"gender_{g}" for g in GENDERS),
    *(f"age_{b}" for b in AGE_BANDS),
    *(f"isced_{b}" for b in ISCED_BANDS),
    *(f"status_{s}" for s in STATUS_INDICATORS),
)


@dataclass
class Participant:
    programme_id: str
    name: str
    gender: str
    target_group: str
    isced: str
    labour_status: str
    bsn: str | None = None
    onderwijsnummer: str | None = None
    birth_date: date | None = None
    age_band: str | None = None  # at entry; derived from the birth date when there is one
    first_activity: date | None = None
    last_activity: date | None = None
    activities: list[str] = field(default_factory=list)


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def age_band(age: int) -> str:
    if age < 18:
        return "<18"
    if age < 30:
        return "18-29"
    if age < 55:
        return "30-54"
    return "55+"


def person_number(p: Participant) -> tuple[str, str]:
    """("bsn" | "onderwijsnummer", the number without spaces or dots); validate first."""
    return ("bsn", p.bsn) if p.bsn else ("onderwijsnummer", p.onderwijsnummer or "")


def validate_participant(p: Participant, today: date) -> list[Violation]:
    """Validate and normalise in place (person number compacted, age band derived)."""
    out: list[Violation] = []
    if not p.name.strip():
        out.append(Violation("name", "required", "name must not be empty"))
    _choice(out, "gender", p.gender, GENDERS)
    _choice(out, "isced", p.isced, ISCED_BANDS)
    _choice(out, "labour_status", p.labour_status, LABOUR_STATUSES)
    if p.target_group not in TARGET_GROUPS:
        out.append(Violation("target_group", "target_group_unknown", f"target group must be one of {', '.join(TARGET_GROUPS)}"))
    _person_number(p, out)
    _age(p, today, out)
    if p.first_activity and p.last_activity and p.last_activity < p.first_activity:
        out.append(Violation("last_activity", "activity_dates_order", "the last activity date must not be before the first"))
    return out


def _choice(out: list[Violation], name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        out.append(Violation(name, f"{name}_unknown", f"{name.replace('_', ' ')} must be one of {', '.join(allowed)}"))


def _person_number(p: Participant, out: list[Violation]) -> None:
    if p.bsn and p.onderwijsnummer:
        out.append(Violation("onderwijsnummer", "one_person_number", "give the BSN, or the onderwijsnummer only when there is no BSN"))
    elif p.bsn:
        if bsn_number.is_valid(p.bsn):
            p.bsn = bsn_number.compact(p.bsn)
        else:
            out.append(Violation("bsn", "bsn_invalid", "a BSN has 9 digits and passes the eleven-test"))
    elif p.onderwijsnummer:
        if onderwijs_number.is_valid(p.onderwijsnummer):
            p.onderwijsnummer = onderwijs_number.compact(p.onderwijsnummer)
        else:
            out.append(
                Violation(
                    "onderwijsnummer",
                    "onderwijsnummer_invalid",
                    "an onderwijsnummer has 9 digits, starts with 10 and passes its eleven-test",
                )
            )
    else:
        out.append(Violation("bsn", "person_number_required", "give the BSN, or the onderwijsnummer of someone without one"))


def _age(p: Participant, today: date, out: list[Violation]) -> None:
    minimum = TARGET_GROUPS.get(p.target_group, 18)
    if p.birth_date is not None:
        age = age_on(p.birth_date, today)
        if p.birth_date > today or age > 100:
            out.append(Violation("birth_date", "birth_date_implausible", "the date of birth must lie in the past (at most 100 years ago)"))
            return
        if age < minimum:
            out.append(Violation("birth_date", "too_young", f"participants of this target group are at least {minimum} years old"))
            return
        p.age_band = age_band(age)
        if p.target_group not in NEEDS_BIRTH_DATE:
            p.birth_date = None  # the age band is all the administration needs: collect no more
    elif p.target_group in NEEDS_BIRTH_DATE:
        out.append(Violation("birth_date", "required", "the date of birth is needed for this target group"))
    elif p.age_band not in AGE_BANDS:
        out.append(Violation("age_band", "age_band_unknown", f"age band must be one of {', '.join(AGE_BANDS)}"))
    elif p.age_band == "<18" and minimum >= 18:
        out.append(Violation("age_band", "too_young", f"participants of this target group are at least {minimum} years old"))


def merge(existing: Participant, again: Participant) -> Participant:
    """The same person registered again: one record, the newer details, the earliest first and the
    latest last activity date, and every activity of both."""
    firsts = [d for d in (existing.first_activity, again.first_activity) if d]
    lasts = [d for d in (existing.last_activity, again.last_activity) if d]
    return replace(
        again,
        first_activity=min(firsts) if firsts else None,
        last_activity=max(lasts) if lasts else None,
        activities=list(dict.fromkeys([*existing.activities, *again.activities])),
    )


def indicators(participants: list[Participant]) -> dict[str, int]:
    """The common output indicators: participants in total and by gender, age band, education level
    and labour-market status at entry (see STATUS_INDICATORS)."""
    counts: Counter[str] = Counter()
    for p in participants:
        counts["participants"] += 1
        counts[f"gender_{p.gender}"] += 1
        counts[f"age_{p.age_band}"] += 1
        counts[f"isced_{p.isced}"] += 1
        for indicator, statuses in STATUS_INDICATORS.items():
            counts[f"status_{indicator}"] += p.labour_status in statuses
    return {name: counts[name] for name in INDICATORS}


def indicator_table(participants: list[Participant]) -> list[dict]:
    """The indicator table by gender: one row per indicator, a column per gender and the total."""
    by_gender = {g: indicators([p for p in participants if p.gender == g]) for g in GENDERS}
    total = indicators(participants)
    return [{"indicator": name, **{g: by_gender[g][name] for g in GENDERS}, "total": total[name]}
            for name in INDICATORS if not name.startswith("gender_")]  # fmt: skip
