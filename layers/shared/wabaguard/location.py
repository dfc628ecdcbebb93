"""Where a request came from, decided by wabaguard: the country of the *source IP* (§Credentials).

No header a client can set is ever read for location (a regional API Gateway passes
``CloudFront-Viewer-Country`` straight from the client). The country comes from the GeoLite2
country data that the maintained ``geoip2fast`` package ships, packaged with the layer; its
~0.3 s load happens on the first lookup only, so the authorizer's cold start does not pay for it
unless it records an event.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6 country networks


@lru_cache(maxsize=1)
def _db() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(geoip2fast_data_file=DATA_FILE)


@lru_cache(maxsize=4096)
def country_of(ip: str | None) -> str | None:
    """ISO 3166 alpha-2 country of a public IP; None for private, reserved or unknown addresses."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not addr.is_global:
        return None
    code = str(_db().lookup(str(addr)).country_code or "")
    return code if len(code) == 2 and code.isalpha() and code.isupper() else None

