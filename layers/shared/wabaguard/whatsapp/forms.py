"""What Meta refuses on form, checked when a challenge is asked for (before any code is sent).

Meta's rules for business profiles and message templates (the Business Management and Cloud API
references): a user whose template Meta would reject on form learns it now, not after approving.
"""

from __future__ import annotations

from typing import Any

# The ``vertical`` values Meta's WhatsApp Business Profile API accepts.
VERTICALS = frozenset(
    {
        "ALCOHOL",
        "APPAREL",
        "AUTO",
        "BEAUTY",
        "EDU",
        "ENTERTAIN",
        "EVENT_PLAN",
        "FINANCE",
        "GOVT",
        "GROCERY",
        "HEALTH",
        "HOTEL",
        "NONPROFIT",
        "ONLINE_GAMBLING",
        "OTC_DRUGS",
        "OTHER",
        "PHYSICAL_GAMBLING",
        "PROF_SERVICES",
        "RESTAURANT",
        "RETAIL",
        "TRAVEL",
    }
)

COMPONENT_TYPES = ("HEADER", "BODY", "FOOTER", "BUTTONS")
HEADER_FORMATS = frozenset({"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
BUTTON_TYPES = frozenset(
    {"QUICK_REPLY", "URL", "PHONE_NUMBER", "OTP", "COPY_CODE", "FLOW", "CATALOG", "MPM", "VOICE_CALL"}
)
LIMITS = {"HEADER": 60, "BODY": 1024, "FOOTER": 60}
BUTTON_TEXT = 25
MAX_BUTTONS = 10


class FormError(ValueError):
    """What Meta would refuse, with the path of the offending field (``components[1].text``)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def _text(comp: dict[str, Any], where: str, limit: int, required: bool = True) -> None:
    text = comp.get("text")
    if text is None and not required:
        return
    if not isinstance(text, str) or not text.strip():
        raise FormError(f"{where}.text", "is required and must be non-empty text")
    if len(text) > limit:
        raise FormError(f"{where}.text", f"is longer than Meta's {limit} characters")


def _buttons(comp: dict[str, Any], where: str) -> None:
    buttons = comp.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise FormError(f"{where}.buttons", f"must list 1 to {MAX_BUTTONS} buttons")
    for i, button in enumerate(buttons):
        at = f"{where}.buttons[{i}]"
        if not isinstance(button, dict):
            raise FormError(at, "must be an object")
        kind = button.get("type")
        if not isinstance(kind, str) or kind.upper() not in BUTTON_TYPES:
            raise FormError(f"{at}.type", f"must be one of {', '.join(sorted(BUTTON_TYPES))}")
        kind = kind.upper()
        if kind in ("QUICK_REPLY", "URL", "PHONE_NUMBER", "FLOW", "VOICE_CALL"):
            _text(button, at, BUTTON_TEXT)
        if kind == "URL":
            url = button.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
                raise FormError(f"{at}.url", "must be an http(s) URL of at most 2000 characters")
        if kind == "PHONE_NUMBER":
            phone = button.get("phone_number")
            if not isinstance(phone, str) or not 1 <= len(phone) <= 20:
                raise FormError(f"{at}.phone_number", "must be a phone number of at most 20 characters")


def check_template(category: str, components: list[dict[str, Any]]) -> None:
    """Raise FormError where Meta's template rules would refuse ``components``."""
    seen: set[str] = set()
    for i, comp in enumerate(components):
        where = f"components[{i}]"
        if not isinstance(comp, dict):
            raise FormError(where, "must be an object")
        kind = comp.get("type")
        if not isinstance(kind, str) or kind.upper() not in COMPONENT_TYPES:
            raise FormError(f"{where}.type", f"must be one of {', '.join(COMPONENT_TYPES)}")
        kind = kind.upper()
        if kind in seen:
            raise FormError(f"{where}.type", f"a template has at most one {kind} component")
        seen.add(kind)
        if kind == "HEADER":
            fmt = comp.get("format")
            if not isinstance(fmt, str) or fmt.upper() not in HEADER_FORMATS:
                raise FormError(f"{where}.format", f"must be one of {', '.join(sorted(HEADER_FORMATS))}")
            if fmt.upper() == "TEXT":
                _text(comp, where, LIMITS["HEADER"])
        elif kind == "BODY":
            # Authentication templates carry Meta's fixed body: no text of their own.
            _text(comp, where, LIMITS["BODY"], required=category != "AUTHENTICATION")
        elif kind == "FOOTER":
            _text(comp, where, LIMITS["FOOTER"])
        else:
            _buttons(comp, where)
    if "BODY" not in seen:
        raise FormError("components", "must include one BODY component")
