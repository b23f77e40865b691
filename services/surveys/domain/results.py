"""Results of one programme: response rates, the paired shift per item, unpaired figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .questionnaire import Item
from .rules import response_rate
from .stats import intention_summary, likert_summary, mcnemar_intention, suppress, wilcoxon_likert

PAIRED_LABEL = "paired: the same pupils before and after (pseudonymous pupil reference)"
UNPAIRED_LABEL = "unpaired: everyone who answered a phase; not the same pupils, no effect claimed"


@dataclass(frozen=True)
class Invitation:
    pupil: str  # who: her group and code together (codes are unique within a group only)
    phase: str
    school: str
    activity: str


@dataclass(frozen=True)
class Response:
    pupil: str  # who, as in Invitation: a pre and a post answer pair up when this is the same
    phase: str
    school: str
    activity: str
    answers: dict[str, Any]


def _rate_block(invited: int, responded: int) -> dict:
    return suppress({"invited": invited, "responded": responded, "rate": round(response_rate(responded, invited) or 0.0, 4)}, responded)


def response_rates(invitations: Iterable[Invitation], responses: Iterable[Response]) -> dict:
    invited: dict[tuple[str, str, str], int] = defaultdict(int)  # (level, key, phase)
    responded: dict[tuple[str, str, str], int] = defaultdict(int)
    for rows, counter in ((invitations, invited), (responses, responded)):
        for r in rows:
            for level, key in (("programme", ""), ("schools", r.school), ("activities", r.activity)):
                counter[(level, key, r.phase)] += 1
    out: dict[str, Any] = {"programme": {}, "schools": {}, "activities": {}}
    for (level, key, phase), n_inv in sorted(invited.items()):
        block = _rate_block(n_inv, responded.get((level, key, phase), 0))
        if level == "programme":
            out["programme"][phase] = block
        else:
            out[level].setdefault(key, {})[phase] = block
    return out


def paired_items(pre_items: Sequence[Item], post_items: Sequence[Item]) -> list[Item]:
    """Items asked in both phases with the same kind: only those can be paired."""
    post = {i.id: i for i in post_items}
    return [i for i in pre_items if i.kind in ("likert", "intention") and i.id in post and post[i.id].kind == i.kind]


def paired_results(items: Sequence[Item], responses: Iterable[Response]) -> dict:
    by_phase: dict[str, dict[str, dict]] = {"pre": {}, "post": {}}
    for r in responses:
        by_phase.setdefault(r.phase, {})[r.pupil] = r.answers
    refs = sorted(set(by_phase["pre"]) & set(by_phase["post"]))
    figures: dict[str, Any] = {}
    for item in items:
        pairs = [
            (by_phase["pre"][ref][item.id], by_phase["post"][ref][item.id])
            for ref in refs
            if item.id in by_phase["pre"][ref] and item.id in by_phase["post"][ref]
        ]
        if item.kind == "intention":
            block = mcnemar_intention(pairs)
        else:
            block = wilcoxon_likert([p for p, _ in pairs], [q for _, q in pairs])
        figures[item.id] = suppress(block, len(pairs))
    return {"label": PAIRED_LABEL, "n_pairs": len(refs) if len(refs) >= 10 else None, "items": figures}


def unpaired_results(items: Sequence[Item], responses: Iterable[Response]) -> dict:
    rows = list(responses)
    out: dict[str, Any] = {"label": UNPAIRED_LABEL}
    for phase in ("pre", "post"):
        answers = [r.answers for r in rows if r.phase == phase]
        block: dict[str, Any] = {}
        for item in items:
            values = [a[item.id] for a in answers if item.id in a]
            summary = intention_summary(values) if item.kind == "intention" else likert_summary(values)
            block[item.id] = suppress(summary, len(values))
        out[phase] = block
    return out


def programme_results(
    programme: str, pre_items: Sequence[Item], post_items: Sequence[Item], invitations: Iterable[Invitation], responses: Iterable[Response]
) -> dict:
    rows = list(responses)
    items = paired_items(pre_items, post_items)
    return {
        "programme": programme,
        "response_rates": response_rates(invitations, rows),
        "paired": paired_results(items, rows),
        "unpaired": unpaired_results(items, rows),
    }
