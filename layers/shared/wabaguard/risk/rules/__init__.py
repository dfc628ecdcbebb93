"""Every risk rule, one module each. Adding a rule is adding a module and listing it here."""

from __future__ import annotations

from wabaguard.risk.model import Rule
from wabaguard.risk.rules import (
    api_key_new_ips,
    impossible_travel,
    key_action_burst,
    key_action_new_location,
    new_countries,
    otp_failures,
    partner_change_after_new_access,
    passkey_clone_suspected,
    pin_reset_after_new_location,
    shared_login,
    stale_users,
    volume_spike,
)

ALL_RULES: tuple[Rule, ...] = (
    volume_spike.RULE,
    new_countries.RULE,
    key_action_burst.RULE,
    key_action_new_location.RULE,
    otp_failures.RULE,
    api_key_new_ips.RULE,
    impossible_travel.RULE,
    stale_users.RULE,
    shared_login.RULE,
    pin_reset_after_new_location.RULE,
    partner_change_after_new_access.RULE,
    passkey_clone_suspected.RULE,
)
