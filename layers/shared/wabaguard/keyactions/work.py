"""What a family's performer receives: the prepared action and the transaction it adds to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from wabaguard.activity import RequestMeta
from wabaguard.keyactions.registry import KeyAction
from wabaguard.models import Account, ChangeRecord, PhoneNumber, User
from wabaguard.people.principal import Principal, change_record
from wabaguard.security import new_id


@dataclass
class Prepared:
    """A validated, authorised key action, ready to be approved or performed. A family's
    ``words_<name>`` fills in ``description`` (and may add ``facts`` or the ``target_user``)."""

    action: KeyAction
    params: dict[str, str]
    body: Any  # the pydantic model of the body
    account: Account
    principal: Principal
    description: str = ""
    phone: PhoneNumber | None = None
    target_user: User | None = None
    facts: list[tuple[str, str]] | None = None  # what the approval email shows besides the words
    checked: Any = None  # what a family's words checked and its performer stores (a new passkey)

    @property
    def phone_words(self) -> str:
        """How the request names its phone number: as people write it."""
        assert self.phone is not None
        return self.phone.display or self.phone.phone_number_id


@dataclass
class Work:
    """One key action's writes: the transaction every performer adds to (with the challenge's
    consumption and the audit record), and what a failed condition of the action's own means."""

    tx: TransactWrite
    conflict: Callable[[], Exception] | None = None
    challenge_id: str = ""  # the challenge that approved it
    change_id: str = field(default_factory=lambda: new_id("chg"))  # its receipt is keyed by it
    approved_with: str = "code"  # passkey | recovery_code | totp | code

    def change(self, p: Principal, kind: str, meta: RequestMeta, now: datetime) -> ChangeRecord:
        """The change record of *this* key action: its id is the receipt's, and it says the factor."""
        record = change_record(p, kind, meta, now)
        record.change_id = self.change_id
        record.approved_with = self.approved_with
        return record


Outcome = tuple[int, Any, dict[str, Any]]  # status, answer, extra fields of the audit record
Performer = Callable[[Principal, Prepared, RequestMeta, datetime, Work], Outcome]
