"""Passkeys and the security policy (§Passkeys): registering and removing a user's passkeys, and
the account's list of key actions only a passkey may approve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wabaguard.activity import RequestMeta
from wabaguard.errors import NotFound
from wabaguard.keyactions.work import Outcome, Prepared, Work
from wabaguard.models import Account, Passkey, PasskeyOptions, account_pk, iso, passkey_sk
from wabaguard.models.passkeys import passkey_options_pk
from wabaguard.passkeys import policy, registration, store
from wabaguard.people.access import load_user, valid_id
from wabaguard.people.principal import Principal
from wabaguard.security import new_id


def words_register_passkey(prep: Prepared) -> str:
    """The browser's registration is checked before any code is sent (and again when it is made)."""
    user = load_user(prep.principal.account_id, prep.principal.user_id or "")
    prep.checked = registration.check(user, prep.body.credential)
    prep.facts = [
        ("Passkey", prep.body.name),
        ("Kind", "synced passkey" if prep.checked.backed_up else "bound to one device"),
    ]
    return f'Register the passkey "{prep.body.name}" for {user.email}'


def words_remove_passkey(prep: Prepared) -> str:
    passkey = _own_passkey(prep.principal, prep.params["passkey_id"])
    prep.checked = passkey
    prep.facts = [("Passkey", passkey.name), ("Registered", passkey.created_at)]
    return f'Remove the passkey "{passkey.name}" of {prep.principal.email}'


def words_set_security_policy(prep: Prepared) -> str:
    wanted = prep.body.passkey_required_for
    prep.facts = [
        ("Passkey required for (before)", _words(policy.view(prep.account)["passkey_required_for"])),
        ("Passkey required for (after)", _words(wanted)),
    ]
    return f"Set the security policy of {prep.account.name}: a passkey is required for {_words(wanted)}"


def _words(names: str | list[str]) -> str:
    if names == policy.ALL:
        return "every key action"
    return ", ".join(sorted(names)) if names else "no key action"


def _own_passkey(principal: Principal, passkey_id: str) -> Passkey:
    user_id = principal.user_id or ""
    if not valid_id(passkey_id):
        raise NotFound("no such passkey")
    try:
        passkey = Passkey.get(account_pk(principal.account_id), passkey_sk(user_id, passkey_id), consistent_read=True)
    except Passkey.DoesNotExist:
        raise NotFound(f"passkey {passkey_id} does not exist") from None
    if passkey.status != "active":
        raise NotFound(f"passkey {passkey_id} does not exist")
    return passkey


def do_register_passkey(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    """The passkey, and the registration options it answered spent, in the key action's transaction."""
    new: registration.NewPasskey = prep.checked
    user_id = p.user_id or ""
    passkey_id = new_id("pk")
    passkey = Passkey(
        account_pk(p.account_id),
        passkey_sk(user_id, passkey_id),
        passkey_id=passkey_id,
        account_id=p.account_id,
        user_id=user_id,
        email=p.email,
        name=prep.body.name,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        aaguid=new.aaguid,
        transports=new.transports,
        backed_up="true" if new.backed_up else "false",
        created_at=iso(now),
        last_change=work.change(p, "passkey_registered", meta, now),
    )
    work.tx.save(passkey, condition=Passkey.sk.does_not_exist())
    work.tx.delete(
        PasskeyOptions(passkey_options_pk(user_id)), condition=PasskeyOptions.challenge == new.options_challenge
    )
    return 201, store.view(passkey), {"detail": f"passkey {passkey_id}"}


def do_remove_passkey(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    passkey: Passkey = prep.checked
    work.tx.update(
        passkey,
        actions=[
            Passkey.status.set("removed"),
            Passkey.removed_at.set(iso(now)),
            Passkey.last_change.set(work.change(p, "passkey_removed", meta, now)),
        ],
        condition=Passkey.status == "active",
    )
    return 204, None, {"detail": f"passkey {passkey.passkey_id}"}


def do_set_security_policy(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    """Conditioned on the policy the challenge was judged against: a change in between loses."""
    account = prep.account
    wanted = prep.body.passkey_required_for
    names: set[str] = {policy.ALL} if wanted == policy.ALL else set(wanted)
    before = account.passkey_required_for
    same: Any = Account.passkey_required_for == before if before else Account.passkey_required_for.does_not_exist()
    work.tx.update(
        Account(*Account.key(account.account_id)),
        actions=[
            Account.passkey_required_for.set(names) if names else Account.passkey_required_for.remove(),
            Account.last_change.set(work.change(p, "security_policy_set", meta, now)),
        ],
        condition=same,
    )
    view = {"account_id": account.account_id, "passkey_required_for": wanted if wanted == policy.ALL else sorted(names)}
    return 200, view, {"detail": f"passkey required for {_words(wanted)}"}
