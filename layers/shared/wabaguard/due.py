"""Work that waits for its time: changes on their way to Meta, security events on their way to
customers, Partner changes in their cooling-off. Such an item carries ``due`` (the kind of work)
and ``due_at`` (when, a sortable microsecond time), which put it in the sparse ``by_due`` index;
it leaves the index when the work is done (both removed).

A worker *claims* an item with one conditional write — still waiting, and due — that moves
``due_at`` past a lease and counts the attempt: two workers never do the same work at once, and
one that dies mid-work leaves the item due again when its lease runs out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pynamodb.exceptions import UpdateError

from wabaguard import activity
from wabaguard.models import AccountsItem, condition_failed

Item = TypeVar("Item", bound=AccountsItem)

stamp = activity.precise


def due(model: type[Item], kind: str, now: datetime, limit: int = 100) -> list[Item]:
    """Items of ``kind`` whose time has come, oldest first."""
    found = model.by_due.query(kind, model.due_at <= stamp(now), limit=limit)
    return [item for item in found if isinstance(item, model)]


def claim(model: type[Item], pk: str, sk: str, now: datetime, lease: timedelta, waiting: Any) -> Item | None:
    """Take a due item for one lease (``waiting``: the condition that it still waits, e.g. its
    status); None when another worker has it or its work is done. The item comes back whole."""
    item = model(pk, sk)
    actions: list[Any] = [model.due_at.set(stamp(now + lease))]
    if "attempts" in model.get_attributes():
        actions.append(model.attempts.add(1))  # type: ignore[attr-defined]
    try:
        item.update(actions=actions, condition=waiting & (model.due_at <= stamp(now)))
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return item


@dataclass
class Tally:
    """What a run of workers did: integer counters (summed) and ``outcomes`` (joined)."""

    outcomes: list[dict[str, str]] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, mine + theirs)
