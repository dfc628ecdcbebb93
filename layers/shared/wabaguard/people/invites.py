"""Invites (§People and ops): nobody learns another person's credential.

A user who is added (or an account's first admin at onboarding) gets no token in anyone's answer:
the notifier emails them a single-use invite link, valid 7 days and stored as a digest, whose page
asks (GET) and — on its POST only, because mail scanners fetch links — shows them their own access
token once. Ops recover a user who lost their token the same way: a new invite to the user's own
address, every user of the account told; the old token dies when the new one is taken up.

Which invite works is settled by the user item: ``invite_ref`` names the change that asked for the
open invite, and taking it up is one transaction conditioned on it (and on the token the user held
when the page was read), so an older invite, a second click, or a race with ``rotate_token`` all
lose cleanly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError

from wabaguard import activity, clock
from wabaguard.activity import RequestMeta
from wabaguard.config import API_STAGE, settings
from wabaguard.errors import NotFound
from wabaguard.models import (
    Account,
    ChangeRecord,
    Credential,
    Invite,
    User,
    condition_failed,
    invite_pk,
    iso,
    live_link,
    system_change,
    transaction,
)
from wabaguard.notices.mailer import Email, render
from wabaguard.pages import LinkPage
from wabaguard.people.access import load_account, load_user
from wabaguard.people.principal import change_by
from wabaguard.people.users import user_credential, user_item
from wabaguard.security import new_id, new_token, token_digest

VALID_FOR = timedelta(days=7)
# The change kinds that invite their subject, and what the invite is for.
INVITE_KINDS = {"user_added": "welcome", "access_recovery": "recovery"}
NOT_VALID = (
    "This invite is unknown, older than 7 days, already used, or replaced by a newer one. "
    "Ask an admin of your account (or your provider) for a new invite."
)


def invited_user(account: Account, email: str, role: str, now: datetime, change: ChangeRecord) -> User:
    """A new user with no token yet: their invite (emailed by the notifier) is ``change``'s."""
    return user_item(account, new_id("usr"), email, role, now, change, invite_ref=change.change_id, invited_at=iso(now))


def start_recovery(account_id: str, user_id: str, ops_identity: str, now: datetime | None = None) -> dict[str, Any]:
    """Ops: a new invite to the user's own address (it retires any older one); every user is told."""
    now = now or clock.utcnow()
    user = load_user(account_id, user_id)
    account = load_account(account_id)
    change = system_change("access_recovery", now, f"wabaguard ops ({ops_identity})")
    actions: Any = [User.invite_ref.set(change.change_id), User.invited_at.set(iso(now)), User.last_change.set(change)]
    try:
        user.update(actions=actions, condition=User.status == "active")
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotFound(f"user {user_id} does not exist") from None
        raise
    return {
        "user_id": user.user_id,
        "email": user.email,
        "account_id": account.account_id,
        "invite": {"status": "emailed", "to": user.email, "valid_for": "7 days", "purpose": "recovery"},
        "note": "The user's current token keeps working until they use the invite; then only the new one does.",
    }


def new_link(user: User, purpose: str, now: datetime | None = None) -> str:
    """One invite link for the user's open invite (the notifier calls this as it emails them)."""
    now = now or clock.utcnow()
    if not user.invite_ref:
        raise NotFound(f"user {user.user_id} has no open invite")
    token = new_token("wgi")
    Invite(
        invite_pk(token_digest(token)),
        account_id=user.account_id,
        user_id=user.user_id,
        email=user.email,
        invite_ref=user.invite_ref,
        purpose=purpose,
        created_at=iso(now),
        ttl=now + VALID_FOR,
    ).save(condition=Invite.pk.does_not_exist())
    return f"{settings().public_base_url}/{API_STAGE}/invite/{token}"


def _load(token: str, now: datetime) -> tuple[Invite, User, Account] | None:
    """The invite while it can still be used: known, not expired or used, still the user's open one."""
    invite = live_link(Invite, invite_pk, token, now)
    if invite is None or invite.used_at:
        return None
    try:
        user = load_user(invite.account_id, invite.user_id)
        account = load_account(invite.account_id)
    except NotFound:
        return None
    if user.invite_ref != invite.invite_ref:
        return None
    return invite, user, account


def _facts(user: User, account: Account) -> list[list[str]]:
    return [["Account", account.name], ["Your email", user.email], ["Your role", user.role]]


def page(token: str, now: datetime | None = None) -> LinkPage:
    """GET: the page only asks; nothing is spent by looking at it."""
    found = _load(token, now or clock.utcnow())
    if found is None:
        return LinkPage(404, "Invite not valid", [NOT_VALID])
    invite, user, account = found
    first = invite.purpose == "welcome"
    return LinkPage(
        200,
        f"Set up your access to {account.name}" if first else f"Recover your access to {account.name}",
        [
            (
                f"You were added to {account.name} on wabaguard, which protects its WhatsApp Business Account."
                if first
                else f"wabaguard operations sent you this invite to recover your access to {account.name}. "
                "Your current access token stops working when you continue."
            ),
            "Continue to see your personal access token. It is shown once, only to you: keep it in your "
            "password manager and never share it — every colleague gets their own.",
        ],
        button="Show my access token",
        facts=_facts(user, account),
    )


def accept(token: str, meta: RequestMeta, now: datetime | None = None) -> LinkPage:
    """POST: the user's own token, made and shown once; the invite (and any older one) is spent."""
    now = now or clock.utcnow()
    found = _load(token, now)
    if found is None:
        return LinkPage(404, "Invite not valid", [NOT_VALID])
    invite, user, account = found
    credential, secret = user_credential(account, user.user_id, user.email, user.role, now)
    actions: Any = [User.token_digest.set(credential.token_digest), User.invite_ref.remove()]
    if invite.purpose == "recovery":
        actions.append(User.last_change.set(change_by("access_recovered", meta, now, user.email, user.user_id)))
    held = User.token_digest == user.token_digest if user.token_digest else User.token_digest.does_not_exist()
    try:
        with transaction() as tx:
            tx.update(invite, actions=[Invite.used_at.set(iso(now))], condition=Invite.used_at.does_not_exist())
            still_open = (User.status == "active") & (User.invite_ref == invite.invite_ref) & held
            tx.update(user, actions=actions, condition=still_open)
            tx.save(credential, condition=Credential.token_digest.does_not_exist())
            if user.token_digest:  # recovery: the old token dies with this very write
                revoke: Any = [Credential.status.set("revoked")]
                tx.update(Credential(user.token_digest), actions=revoke, condition=Credential.token_digest.exists())
    except TransactWriteError as exc:
        if condition_failed(exc):
            return LinkPage(404, "Invite not valid", [NOT_VALID])
        raise
    detail = f"{invite.purpose} invite of {user.email}"
    activity.record(account.account_id, "invite_accepted", meta, at=now, detail=detail)
    return LinkPage(
        200,
        "Your access token",
        [
            "This is your personal access token for the wabaguard API. It is shown only now: copy it into your "
            "password manager before you leave this page. wabaguard keeps only a fingerprint of it and cannot "
            "show it again.",
            "Use it as 'Authorization: Bearer …' with the API, or hand it to nobody: every colleague has their own. "
            "If you lose it, ask an admin of your account to have wabaguard operations send you a recovery invite.",
        ],
        facts=_facts(user, account),
        reveal=secret,
    )


def email(user: User, account: Account, url: str, purpose: str, by: str | None) -> Email:
    """The invite itself: who asked for it, for which account, and the link (never a token)."""
    support = settings().support_email
    if purpose == "recovery":
        subject = f"[wabaguard] Recover your access to {account.name}"
        opening = (
            f"wabaguard operations sent you a new invite to recover your access to {account.name}. When you use "
            "it, you get a new access token and your current one stops working."
        )
        unexpected = (
            f"If you did not ask for this, do not use the link and write to {support} now: someone may be trying "
            "to take over your account."
        )
    else:
        subject = f"[wabaguard] You were added to {account.name}"
        opening = (
            f"{by or 'An admin'} added you to {account.name} as {user.role} on wabaguard, the security layer "
            "of its WhatsApp Business Account."
        )
        unexpected = f"If you do not know this account, ignore this email or write to {support}."
    return render(
        user.email,
        subject,
        [
            opening,
            "Open the link below to see your personal access token. It is shown once, only to you, and the link "
            "works once, for 7 days.",
            unexpected,
        ],
        [("Account", account.name), ("Your role", user.role), ("Link valid for", "7 days, once")],
        links=[("Set up my access", url)],
        why=f"You receive this because your email address was added to {account.name} on wabaguard.",
    )


def mail_for(kind: str, item: object, account: Account, recipient: str) -> Email | None:
    """The invite email when ``recipient`` is the person a change invites (the notifier sends it
    instead of the change notice they would get); None for everyone else."""
    purpose = INVITE_KINDS.get(kind)
    if purpose is None or not isinstance(item, User) or item.email != recipient or not item.invite_ref:
        return None
    lc = item.last_change
    by = lc.by_email if lc is not None and lc.by_user_id else "wabaguard operations"
    return email(item, account, new_link(item, purpose), purpose, by)
