"""`girlsday up --demo`: seed a demo Girls' Day programme through the public HTTP APIs.

Everything goes through the same endpoints schools, companies and VHTO staff use, so the demo also
exercises the whole event flow (registration -> matching, surveys, reporting). Seeding twice is
harmless: schools and companies that exist already are left alone (409), and a second programme is
not created when one with the demo name exists.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import httpx

from shared.settings import Settings

DEMO_NAME = "Girls' Day demo"
PLACES = [  # (postcode, city) — real postcodes, so distances are real
    ("3511 AB", "Utrecht"),
    ("1012 AB", "Amsterdam"),
    ("3011 AB", "Rotterdam"),
    ("2511 AB", "Den Haag"),
    ("5611 AB", "Eindhoven"),
    ("9711 AB", "Groningen"),
    ("6811 AB", "Arnhem"),
    ("8011 AB", "Zwolle"),
    ("6511 AB", "Nijmegen"),
    ("2611 AB", "Delft"),
    ("2011 AB", "Haarlem"),
    ("7511 AB", "Enschede"),
]
SECTORS = ["ict", "engineering", "energy", "construction", "science", "water", "mobility"]
ACTIVITY_TITLES = {
    "ict": "Programmeer je eigen app",
    "engineering": "Bouw een robotarm",
    "energy": "Werk mee aan het stroomnet",
    "construction": "Ontwerp een brug",
    "science": "Experimenteer in het lab",
    "water": "Houd Nederland droog",
    "mobility": "Test een elektrische auto",
}


def seed(settings: Settings, *, schools: int = 24, companies: int = 18, seed_value: int = 2026) -> str:
    rng = random.Random(seed_value)
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    with httpx.Client(base_url=settings.public_url("registration"), timeout=30) as client:
        existing = [p for p in client.get("/api/programmes").json() if p.get("name") == DEMO_NAME]
        if existing:
            return f"demo programme already present ({existing[0]['id']})"
        now = datetime.now(UTC)
        programme = _ok(
            client.post(
                "/api/programmes",
                headers=admin,
                json={
                    "kind": "girls_day",
                    "name": DEMO_NAME,
                    "event_date": str(date.today() + timedelta(days=30)),
                    "opens_at": (now - timedelta(days=1)).isoformat(),
                    "closes_at": (now + timedelta(days=14)).isoformat(),
                    "targets": {"pupils": 600, "schools": 30, "companies": 20},
                    "allocation_mode": "groups",
                    "min_group_size": 10,
                    "min_age": 10,
                    "max_age": 15,
                },
            )
        )
        programme_id = programme["id"]
        _ok(client.post(f"/api/programmes/{programme_id}/open", headers=admin))

        activities = 0
        for number in range(companies):
            postcode, city = PLACES[number % len(PLACES)]
            sectors = rng.sample(SECTORS, 2)
            response = client.post(
                "/api/companies",
                json={
                    "kvk": f"{90000000 + number:08d}",
                    "name": f"Demo {city} Techniek {number + 1}",
                    "sectors": sectors,
                    "postcode": postcode,
                    "contact": {"name": "Demo contact", "email": f"demo{number}@bedrijf.example"},
                },
            )
            if response.status_code == 409:
                continue
            company = _ok(response)
            secret = {"Authorization": f"Bearer {company['account_secret']}"}
            for sector in sectors:
                _ok(
                    client.post(
                        f"/api/companies/{company['company']['id']}/activities",
                        headers=secret,
                        json={
                            "programme_id": programme_id,
                            "title": ACTIVITY_TITLES[sector],
                            "description": f"Een ochtend bij {city}: {ACTIVITY_TITLES[sector].lower()}.",
                            "sector": sector,
                            "capacity": rng.choice([20, 24, 30, 40]),
                            "levels": ["po", "vo"],
                            "min_age": 10,
                            "max_age": 15,
                            "starts_at": "09:30",
                            "ends_at": "12:30",
                            "postcode": postcode,
                            "address": f"Demostraat {number + 1}, {city}",
                            "wheelchair_accessible": True,
                        },
                    )
                )
                activities += 1

        groups = pupils = 0
        for number in range(schools):
            postcode, city = PLACES[(number * 5) % len(PLACES)]
            level = "po" if number % 3 == 0 else "vo"
            response = client.post(
                "/api/schools",
                json={
                    "brin": f"{10 + number:02d}{chr(65 + number % 26)}Z",
                    "name": f"Demoschool {city} {number + 1}",
                    "level": level,
                    "postcode": postcode,
                    "contact": {"name": "Demo docent", "email": f"docent{number}@school.example"},
                },
            )
            if response.status_code == 409:
                continue
            school = _ok(response)
            secret = {"Authorization": f"Bearer {school['account_secret']}"}
            for part in range(rng.choice([1, 1, 2])):
                size = rng.randint(10, 28)
                ages = [11, 12] if level == "po" else [12, 13, 14]
                _ok(
                    client.post(
                        f"/api/schools/{school['school']['id']}/groups",
                        headers=secret,
                        json={
                            "programme_id": programme_id,
                            "pupil_count": size,
                            "ages": ages,
                            "grades": ["groep 8"] if level == "po" else ["klas 2"],
                            "teacher_name": "Demo docent",
                            "preferred_sectors": rng.sample(SECTORS, 2),
                            "max_travel_km": 60,
                            "split": {"may_split": True, "max_parts": 2, "min_part_size": 8} if size > 16 else {"may_split": False},
                            "pupils": [
                                {"pupil_ref": f"d{number}-{part}-{i:02d}", "age": rng.choice(ages), "parental_consent": rng.random() < 0.8}
                                for i in range(size)
                            ],
                        },
                    )
                )
                groups += 1
                pupils += size
    return (
        f"demo programme {programme_id}: {groups} groups ({pupils} pupils) of {schools} schools, "
        f"{activities} activities of {companies} companies; admin token: GIRLSDAY_ADMIN_TOKEN"
    )


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise RuntimeError(
            f"demo seed: {response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:300]}"
        )
    return response.json()
