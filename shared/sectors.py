"""The sectors of activities and of the preferences schools rank: codes and their names.

Registration validates against these codes (``services.registration.domain.identifiers.SECTORS``
holds the same list); matching words its explanations with the names. Dutch first, English too.
"""

NAMES: dict[str, tuple[str, str]] = {
    "ict": ("ICT", "ICT"),
    "engineering": ("Techniek", "Engineering"),
    "energy": ("Energie", "Energy"),
    "construction": ("Bouw", "Construction"),
    "science": ("Wetenschap en onderzoek", "Science and research"),
    "healthcare_technology": ("Zorgtechnologie", "Healthcare technology"),
    "manufacturing": ("Maakindustrie", "Manufacturing"),
    "logistics": ("Logistiek", "Logistics"),
    "mobility": ("Mobiliteit", "Mobility"),
    "water": ("Water", "Water"),
    "agriculture_food": ("Agri en food", "Agriculture and food"),
    "design": ("Ontwerp", "Design"),
    "finance_tech": ("Financiële technologie", "Financial technology"),
    "defence_safety": ("Defensie en veiligheid", "Defence and safety"),
    "other": ("Anders", "Other"),
}


def sector_name(code: str, lang: str = "nl") -> str:
    names = NAMES.get(code)
    return code if names is None else names[lang == "en"]
