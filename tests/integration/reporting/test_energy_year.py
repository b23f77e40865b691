"""One project year of an energy-transition programme, through registration and reporting on a real
NATS and database: participants and activities registered, attendance, a second registration of the
same person, an erasure, partner employers' retention figures — and reporting's figures equal the
scripted truth, with no personal data on the way."""

from tests.helpers import eventually
from tests.integration.registration.conftest import ADMIN, Api

PEOPLE = [  # (BSN, gender, target group, labour status, registered by)
    ("111222333", "female", "career_switcher", "unemployed", None),
    ("123456782", "female", "student_mbo", "in_education", None),
    ("100000022", "non_binary", "career_switcher", "long_term_unemployed", None),
    ("100000009", "female", "team_leader", "employed", "alliander"),
    ("100000010", "male", "team_leader", "employed", "alliander"),
]


def person(bsn: str, gender: str, target_group: str, status: str) -> dict:
    body = {"name": f"Deelnemer {bsn[-3:]}", "email": f"d{bsn}@example.nl", "bsn": bsn, "gender": gender, "target_group": target_group,
            "isced": "3-4", "labour_status": status, "consents": {"register": True}}  # fmt: skip
    if target_group.startswith("student"):
        body["birth_date"] = "2008-02-02"
    else:
        body["age_band"] = "30-54"
    return body


async def test_a_project_year_gives_reporting_exactly_the_scripted_figures(start_service):
    async with start_service("registration") as registration, start_service("reporting") as reporting:
        api = Api(registration)
        programme = await api.programme(kind="energy_transition", targets={"pupils": 10, "schools": 0, "companies": 2})
        pid = programme["id"]
        alliander = await api.company("11111111", name="Alliander", sectors=["energy"])
        joulz = await api.company("22222222", name="Joulz", sectors=["engineering"])
        visit = await api.activity(
            alliander, pid, title="Kijkje in het onderstation", sector="energy", levels=["mbo"], min_age=16, max_age=25
        )
        workshop = await api.activity(
            joulz, pid, title="Workshop voor teamleiders", sector="engineering", levels=["mbo"], min_age=16, max_age=25
        )
        ids = {}
        for bsn, gender, group, status, by in PEOPLE:
            headers = alliander[1] if by == "alliander" else {}
            r = await api.post(f"/api/programmes/{pid}/participants", headers=headers, json=person(bsn, gender, group, status))
            assert r.status_code == 201, r.text
            ids[bsn] = r.json()["id"]
        again = await api.post(f"/api/programmes/{pid}/participants", json=person("111222333", "female", "career_switcher", "unemployed"))
        assert again.status_code == 200  # the same person: still five participants
        await api.post(f"/api/activities/{visit['id']}/attendance", headers=alliander[1],
                       json={"day": "2026-03-12", "attended": [ids["111222333"], ids["123456782"]], "absent": [ids["100000022"]]})  # fmt: skip
        await api.post(f"/api/activities/{workshop['id']}/attendance", headers=joulz[1],
                       json={"day": "2026-04-02", "attended": [ids["100000009"], ids["100000010"]]})  # fmt: skip
        for company, period, figures in (
            (alliander, "2026-H1", (40, 5, 36)),
            (alliander, "2026-H2", (41, 3, 38)),
            (joulz, "2026-H1", (10, 2, 8)),
        ):
            body = dict(zip(("women_technical", "hired", "kept"), figures, strict=True))
            assert (await api.put(f"/api/programmes/{pid}/retention/{period}", headers=company[1], json=body)).status_code == 200
        assert (await api.delete(f"/api/participants/{ids['100000010']}", headers=ADMIN)).status_code == 200

        async def settled():
            r = await reporting.get(f"/api/programmes/{pid}/energy")
            body = r.json() if r.status_code == 200 else None
            done = body and body["participants"]["erased"] == 1 and len(body["retention_by_employer"]) == 3 and body["indicators"]
            return body if done and body["indicators"][0]["total"] == 4 else None

        body = await eventually(settled, timeout=20)
        assert body["participants"] == {"target": 10, "actual": 4, "ratio": 0.4, "erased": 1,
                                        "by_target_group": {"career_switcher": 2, "student_mbo": 1, "team_leader": 1}}  # fmt: skip
        assert (body["activities_given"], body["attendances"], body["absences"]) == (2, 4, 1)
        assert {(r["company"], r["period"], r["retention"]) for r in body["retention_by_employer"]} == {
            ("Alliander", "2026-H1", 0.9),
            ("Alliander", "2026-H2", 0.9268),
            ("Joulz", "2026-H1", 0.8),
        }
        by_sector = {(r["sector"], r["period"]): r["retention"] for r in body["retention_by_sector"]}
        assert by_sector == {("energy", "2026-H1"): 0.9, ("energy", "2026-H2"): 0.9268, ("engineering", "2026-H1"): 0.8}
        table = {row["indicator"]: row for row in body["indicators"]}
        assert table["participants"] == {"indicator": "participants", "female": 3, "male": 0, "non_binary": 1, "total": 4}
        assert (table["status_unemployed"]["total"], table["status_long_term_unemployed"]["total"]) == (2, 1)
        assert (table["status_inactive"]["total"], table["status_employed"]["total"], table["age_18-29"]["total"]) == (1, 1, 1)
        staff = {row["indicator"]: row for row in (await api.get(f"/api/programmes/{pid}/register/indicators", headers=ADMIN)).json()}
        assert staff == table  # reporting shows exactly the register's own table
