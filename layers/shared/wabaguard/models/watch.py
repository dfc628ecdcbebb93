"""The WABA watch (§WABA watch): what each watched WABA looked like at Meta the last time
wabaguard read it, the differences it found that wabaguard did not make, and the pause that a
refused system-user token puts on every read (Accounts table)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from wabaguard.models.base import AccountsItem, account_pk


class WabaSnapshot(AccountsItem, discriminator="waba_snapshot"):
    """One WABA's state at Meta as last read: ``digest`` to compare cheaply, ``state`` to explain a
    difference. It always waits in ``by_due`` (``due`` = ``waba_watch``) for its next read: its turn
    ``slot_at`` comes once per period at the account's own offset, so Meta sees an even rate; a
    failed read moves only ``due_at`` (backoff), never the turn. No ``state`` yet means the next
    read is the baseline."""

    account_id = UnicodeAttribute()
    waba_id = UnicodeAttribute()
    digest = UnicodeAttribute(null=True)
    state = JSONAttribute(null=True)  # type: ignore[arg-type]
    taken_at = UnicodeAttribute(null=True)  # when ``state`` was read
    slot_at = UnicodeAttribute(null=True)  # the current turn (ISO, microseconds)
    attempts = NumberAttribute(default=0)  # failed reads since the last good one (claims count too)
    last_error = UnicodeAttribute(null=True)  # what Meta answered the last failed read, in words
    reads = NumberAttribute(default=0)  # good reads, ever
    enrolled_at = UnicodeAttribute()

    @classmethod
    def key(cls, account_id: str, waba_id: str) -> tuple[str, str]:
        return account_pk(account_id), f"WABASNAP#{waba_id}"


def drift_sk(at: str, drift_id: str) -> str:
    return f"DRIFT#{at}#{drift_id}"


class WabaDrift(AccountsItem, discriminator="waba_drift"):
    """Differences at Meta that no change of wabaguard explains, found by one read: the notice
    (``last_change`` kind ``waba_drift``) and the security event ``whatsapp.drift`` come from it."""

    drift_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    waba_id = UnicodeAttribute()
    severity = UnicodeAttribute()  # the highest of its differences: medium | high
    differences = JSONAttribute(default=list)  # type: ignore[arg-type]  # [{area, key, change, before, after, severity, words}]
    flag_id = UnicodeAttribute(null=True)  # the flag it raised (none while one is open)
    previous_at = UnicodeAttribute(null=True)  # the snapshot it was compared with
    found_at = UnicodeAttribute()


class WatchPause(AccountsItem, discriminator="watch_pause"):
    """The watch of every WABA waits while the Graph API refuses the system-user token (§Platform's
    190 and friends): one read would fail like the next. ``until``: when it tries again."""

    until = UnicodeAttribute()
    detail = UnicodeAttribute()
    since = UnicodeAttribute()

    @classmethod
    def key(cls) -> tuple[str, str]:
        return "WATCH", "PAUSE"
