"""§Mail delivery: what wabaguard sent, by SES message id (Challenges table, 30 days), and a failed
delivery as a change the account's admins are told of (Accounts table)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UnicodeSetAttribute

from wabaguard.models.base import AccountsItem, account_pk
from wabaguard.models.challenges import ChallengesItem


def mail_pk(message_id: str) -> str:
    return f"MAIL#{message_id}"


class MailDelivery(ChallengesItem, discriminator="mail_delivery"):
    """One email SES accepted and what became of it. ``status``: sent → delayed → delivered, or a
    failure (bounced | complained | rejected); a later event never moves it back (events arrive out
    of order), and ``seen`` keeps each event once (they may arrive twice)."""

    message_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # code | approval | notice | invite | replay | lockout | undeliverable
    recipient = UnicodeAttribute()
    account_id = UnicodeAttribute(null=True)  # the account the email is about
    user_id = UnicodeAttribute(null=True)
    change_id = UnicodeAttribute(null=True)  # a notice's change
    challenge_id = UnicodeAttribute(null=True)  # a code or approval email's challenge
    item_pk = UnicodeAttribute(null=True)  # the notified item (a Partner change waits for its notices)
    item_sk = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="sent")
    detail = UnicodeAttribute(null=True)  # the failure in words (bounce type, SMTP status)
    seen = UnicodeSetAttribute(null=True)
    events = JSONAttribute(default=list)  # type: ignore[arg-type]  # [{type, at}] as they arrived
    sent_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)


def mail_failure_sk(message_id: str) -> str:
    return f"MAILFAIL#{message_id}"


class MailFailure(AccountsItem, discriminator="mail_failure"):
    """A security email that did not arrive: its ``last_change`` (``notice_undeliverable``) tells the
    account's other admins and the Partner's admins who missed what, once per email."""

    message_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    recipient = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()  # bounced | complained | rejected
    subject = UnicodeAttribute(null=True)
    change_id = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    at = UnicodeAttribute()


def mail_failure_key(account_id: str, message_id: str) -> tuple[str, str]:
    return account_pk(account_id), mail_failure_sk(message_id)
