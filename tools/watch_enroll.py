"""Enroll the WABAs of accounts onboarded before the WABA watch existed (§WABA watch): one pass over
the Accounts table, each Client account with a ``waba_id`` gets its watch (its baseline is read at
the watch's next run). Safe to run again: a WABA watched already is left as it is.

AWS:   ACCOUNTS_TABLE=<the stack's table> python -m tools.watch_enroll   (AWS credentials as usual)
"""

from __future__ import annotations

import argparse
import json
import sys

from wabaguard.models import Account
from wabaguard.watch import schedule


def enroll_all() -> dict[str, int]:
    """Enroll every Client account's WABA that is not watched yet."""
    out = {"accounts": 0, "enrolled": 0, "watched_already": 0}
    for account in Account.scan(Account.kind == "client"):  # polymorphic: Account items only
        if not isinstance(account, Account) or not account.waba_id:
            continue
        out["accounts"] += 1
        if schedule.enroll(account.account_id, account.waba_id):
            out["enrolled"] += 1
        else:
            out["watched_already"] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    print(json.dumps(enroll_all()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
