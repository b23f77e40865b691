"""Words people read on the dashboard and in exports: Dutch first, English available."""

from __future__ import annotations

LANGUAGES = ("nl", "en")

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Girls' Day in cijfers",
        "programmes": "Programma's",
        "no_programmes": "Nog geen programma's.",
        "pupils": "Leerlingen",
        "schools": "Scholen",
        "companies": "Bedrijven",
        "groups": "Groepen",
        "activities": "Activiteiten",
        "capacity": "Plaatsen",
        "placed_pupils": "Geplaatst",
        "unplaced_pupils": "Niet geplaatst",
        "waitlisted_pupils": "Wachtlijst",
        "split_groups": "Gesplitste groepen",
        "mean_distance_km": "Gem. reisafstand (km)",
        "target": "Doel",
        "actual": "Gerealiseerd",
        "target_vs_actual": "Doel en realisatie",
        "pct_of_target": "% van het doel",
        "registrations_over_time": "Aanmeldingen in de tijd (leerlingen, cumulatief)",
        "placements_by_province": "Geplaatste leerlingen per provincie",
        "survey_shift": "Verschuiving voor- en nameting",
        "pre": "Voormeting",
        "post": "Nameting",
        "response_rate": "Respons",
        "no_survey": "Nog geen enquêteresultaten.",
        "of": "van",
        "updated": "Bijgewerkt",
        "downloads": "Downloads (CSV)",
        "excel": "voor Excel (NL)",
        "other_language": "English",
        "unknown": "onbekend",
    },
    "en": {
        "title": "Girls' Day in figures",
        "programmes": "Programmes",
        "no_programmes": "No programmes yet.",
        "pupils": "Pupils",
        "schools": "Schools",
        "companies": "Companies",
        "groups": "Groups",
        "activities": "Activities",
        "capacity": "Places",
        "placed_pupils": "Placed",
        "unplaced_pupils": "Not placed",
        "waitlisted_pupils": "Waiting list",
        "split_groups": "Split groups",
        "mean_distance_km": "Mean travel distance (km)",
        "target": "Target",
        "actual": "Actual",
        "target_vs_actual": "Target vs actual",
        "pct_of_target": "% of target",
        "registrations_over_time": "Registrations over time (pupils, cumulative)",
        "placements_by_province": "Placed pupils by province",
        "survey_shift": "Pre/post survey shift",
        "pre": "Pre",
        "post": "Post",
        "response_rate": "Response",
        "no_survey": "No survey results yet.",
        "of": "of",
        "updated": "Updated",
        "downloads": "Downloads (CSV)",
        "excel": "for Excel (Dutch settings)",
        "other_language": "Nederlands",
        "unknown": "unknown",
    },
}


def labels(lang: str | None) -> tuple[str, dict[str, str]]:
    chosen = lang if lang in LANGUAGES else "nl"
    return chosen, LABELS[chosen]


def format_number(value: float | int | None, lang: str) -> str:
    """8600 -> '8.600' (nl) or '8,600' (en); None -> '–'."""
    if value is None:
        return "–"
    text = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "nl" else text
