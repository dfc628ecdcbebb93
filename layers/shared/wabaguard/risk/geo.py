"""Approximate country centroids (lat, lon) for impossible-travel checks. Unknown → no verdict."""

from __future__ import annotations

import math

CENTROIDS: dict[str, tuple[float, float]] = {
    "AE": (24.0, 54.0),
    "AR": (-34.0, -64.0),
    "AT": (47.5, 14.5),
    "AU": (-25.0, 134.0),
    "BD": (24.0, 90.0),
    "BE": (50.8, 4.0),
    "BR": (-10.0, -55.0),
    "CA": (56.0, -106.0),
    "CH": (47.0, 8.0),
    "CL": (-30.0, -71.0),
    "CN": (35.0, 105.0),
    "CO": (4.0, -72.0),
    "CZ": (49.8, 15.5),
    "DE": (51.0, 9.0),
    "DK": (56.0, 10.0),
    "EG": (27.0, 30.0),
    "ES": (40.0, -4.0),
    "FI": (64.0, 26.0),
    "FR": (46.0, 2.0),
    "GB": (54.0, -2.0),
    "GH": (8.0, -1.2),
    "GR": (39.0, 22.0),
    "HK": (22.3, 114.2),
    "HU": (47.0, 20.0),
    "ID": (-5.0, 120.0),
    "IE": (53.0, -8.0),
    "IL": (31.5, 34.8),
    "IN": (21.0, 78.0),
    "IT": (42.8, 12.8),
    "JP": (36.0, 138.0),
    "KE": (1.0, 38.0),
    "KR": (37.0, 127.5),
    "MA": (32.0, -5.0),
    "MX": (23.0, -102.0),
    "MY": (2.5, 112.5),
    "NG": (10.0, 8.0),
    "NL": (52.5, 5.8),
    "NO": (62.0, 10.0),
    "NZ": (-41.0, 174.0),
    "PE": (-10.0, -76.0),
    "PH": (13.0, 122.0),
    "PK": (30.0, 70.0),
    "PL": (52.0, 20.0),
    "PT": (39.5, -8.0),
    "RO": (46.0, 25.0),
    "RU": (60.0, 100.0),
    "SA": (25.0, 45.0),
    "SE": (62.0, 15.0),
    "SG": (1.4, 103.8),
    "TH": (15.0, 100.0),
    "TR": (39.0, 35.0),
    "TW": (23.5, 121.0),
    "UA": (49.0, 32.0),
    "US": (38.0, -97.0),
    "VN": (16.0, 106.0),
    "ZA": (-29.0, 24.0),
}


def distance_km(a: str, b: str) -> float | None:
    """Great-circle distance between two countries' centroids, None if either is unknown."""
    if a not in CENTROIDS or b not in CENTROIDS:
        return None
    (lat1, lon1), (lat2, lon2) = CENTROIDS[a], CENTROIDS[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
