"""Exactly once per recipient, kept per stream record: which of a record's notices went out.

The stream delivers a record at least once (a retry after a failed send, a replay from the DLQ,
two invocations overlapping). Powertools Idempotency kept a record per recipient, written twice
(in progress, then done): two writes per notice. Here one item per stream record holds the
recipients told so far. An invocation claims the record for as long as it may run (one write),
adds each recipient once their notice is out (one write each; the last one also lets go of the
claim) — a notice costs one write, and the guarantee is the same: a notice whose send succeeded but
whose mark was lost (the function killed between the two) goes out again on the retry, as with
Powertools; nothing else is ever sent twice, and two invocations never work on one record at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from wabaguard.models import NoticeProgress, condition_failed
from wabaguard.notices.mailer import MailError

KEPT_FOR = timedelta(days=7)  # beyond the stream's 24 h and the failure queue's replays


class Busy(Exception):
    """Another invocation holds the record: this one must fail it, so the stream retries later."""


def _digest(recipient: str) -> str:
    return hashlib.sha256(recipient.encode()).hexdigest()[:24]


class Progress:
    """One stream record's notices: ``claim`` first, then ``told`` for each notice sent, and
    ``release`` whatever happens (a no-op once the last notice let go of the claim)."""

    def __init__(self, event_id: str, now: float, claim_until: float) -> None:
        self.item = NoticeProgress(f"notices#{event_id}")
        self.now, self.claim_until = now, claim_until
        self.held = False
        self._told: frozenset[str] = frozenset()  # as the claim found them

    def claim(self) -> None:
        """Take the record until ``claim_until``; raises Busy while another invocation has it."""
        try:
            self.item.update(
                actions=[
                    NoticeProgress.claimed_until.set(self.claim_until),
                    NoticeProgress.expiration.set(datetime.fromtimestamp(self.now, UTC) + KEPT_FOR),
                ],
                condition=NoticeProgress.claimed_until.does_not_exist() | (NoticeProgress.claimed_until < self.now),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise Busy(f"another invocation is sending the notices of {self.item.id}") from None
            raise
        self.held = True
        self._told = frozenset(self.item.told or ())

    def was_told(self, recipient: str) -> bool:
        return _digest(recipient) in self._told

    def told(self, recipient: str, last: bool) -> None:
        """``recipient``'s notice went out; ``last``: no other is left to send, let go of the claim."""
        actions: list[Action] = [NoticeProgress.told.add({_digest(recipient)})]
        if last:
            actions.append(NoticeProgress.claimed_until.remove())
        self.item.update(actions=actions)
        if last:
            self.held = False

    def release(self) -> None:
        """Let go of the claim (a send failed, or nothing was left to send): the retry may start at once."""
        if self.held:
            self.item.update(actions=[NoticeProgress.claimed_until.remove()])
            self.held = False


@dataclass
class Told:
    """What became of one record's notices."""

    sent: int = 0
    failed: int = 0  # SES refused them: the record is retried, and only these go out again
    deduplicated: int = 0  # told by an earlier delivery of the record


def tell_each(
    event_id: str, recipients: Sequence[str], send: Callable[[str], object], now: float, claim_until: float
) -> Told:
    """Send ``send(to)`` to each recipient of one stream record not told before, exactly once.
    Raises Busy while another invocation has the record; anything but a MailError propagates, the
    claim let go first."""
    progress = Progress(event_id, now, claim_until)
    progress.claim()
    out = Told()
    try:
        pending = [to for to in recipients if not progress.was_told(to)]
        out.deduplicated = len(recipients) - len(pending)
        for i, to in enumerate(pending):
            try:
                send(to)
            except MailError:
                out.failed += 1
                continue
            progress.told(to, last=i == len(pending) - 1)
            out.sent += 1
    finally:
        progress.release()
    return out
