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
        "selected": "Gekozen programma",
        "choose_programme": "Kies een programma",
        "explain_unplaced": "Niet geplaatst: aangemelde leerlingen die (nog) geen plek hebben. De wachtlijst is een deel daarvan: "
        "zij krijgen een plek zodra er een vrijkomt. Niemand telt dubbel: geplaatst + niet geplaatst = alle leerlingen.",
        "as_table": "De cijfers als tabel",
        "auto_update": "De cijfers verversen vanzelf.",
        "figure": "Cijfer",
        "day": "Dag",
        "province": "Provincie",
        "measure": "Meting",
        "csv_plain": "CSV",
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
        "selected": "Selected programme",
        "choose_programme": "Choose a programme",
        "explain_unplaced": "Not placed: registered pupils without a place (yet). The waiting list is part of them: "
        "they get a place as soon as one comes free. Nobody is counted twice: placed + not placed = all pupils.",
        "as_table": "The figures as a table",
        "auto_update": "The figures update by themselves.",
        "figure": "Figure",
        "day": "Day",
        "province": "Province",
        "measure": "Measure",
        "csv_plain": "CSV",
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


# Exports on a Dutch request: Dutch column names and words (a column not named here keeps its name).
COLUMNS_NL = {
    "figure": "cijfer",
    "value": "waarde",
    "target": "doel",
    "actual": "gerealiseerd",
    "ratio": "aandeel van het doel",
    "province": "provincie",
    "level": "onderwijstype",
    "sector": "sector",
    "day": "dag",
    "groups": "groepen",
    "pupils": "leerlingen",
    "schools": "scholen",
    "companies": "bedrijven",
    "cumulative_groups": "groepen (cumulatief)",
    "cumulative_pupils": "leerlingen (cumulatief)",
    "placed_pupils": "geplaatst",
    "unplaced_pupils": "niet geplaatst",
    "waitlisted_pupils": "wachtlijst",
    "capacity": "plaatsen",
    "phase": "vragenlijst",
    "invited": "uitgenodigd",
    "responded": "ingevuld",
    "responses_recorded": "antwoorden ontvangen",
    "response_rate": "respons",
    "measure": "meting",
    "suppressed": "niet getoond",
}
WORDS_NL = {"pre": "vóór", "post": "ná", "fewer than 10 responses": "minder dan 10 antwoorden", "unknown": "onbekend"}


def dutch_rows(rows: list[dict]) -> list[dict]:
    """Values people read in Dutch: figure names as on the dashboard, phases, suppression notes."""
    words = {**{k: v.lower() for k, v in LABELS["nl"].items()}, **WORDS_NL}
    return [
        {k: (words.get(v, v) if isinstance(v, str) and k in ("figure", "phase", "suppressed", "province") else v) for k, v in row.items()}
        for row in rows
    ]
