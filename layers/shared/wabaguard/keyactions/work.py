"""What a family's performer receives: the prepared action and the transaction it adds to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from wabaguard.activity import RequestMeta
from wabaguard.keyactions.registry import KeyAction
from wabaguard.models import Account, PhoneNumber, User
from wabaguard.people.principal import Principal


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


Outcome = tuple[int, Any, dict[str, Any]]  # status, answer, extra fields of the audit record
Performer = Callable[[Principal, Prepared, RequestMeta, datetime, Work], Outcome]
