"""Where moto differs from DynamoDB in a way the local stack (and every test) would inherit.

A failed ``TransactWriteItems`` in DynamoDB writes nothing and emits nothing on the stream. moto
undoes one by swapping in a deep copy of each table made before the transaction — stream shard
included — while every open shard iterator still holds the *old* shard object. From then on the
stream pump reads an orphaned shard that holds only the failed transaction's records (about items
that never existed) and never anything newer: one failed onboarding silenced every notice.

The fix keeps the live shard: after a failed transaction the restored table gets its original
shard back, cut to the records it had before the transaction.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_INSTALLED = False
_DYNAMODB = threading.RLock()  # one DynamoDB call at a time, as if each were atomic


def install() -> None:
    """Patch moto's DynamoDB backend once per process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action

    @functools.wraps(call_action)
    def atomic_call(self: Any) -> Any:
        with _DYNAMODB:
            return call_action(self)

    DynamoHandler.call_action = atomic_call  # type: ignore[method-assign]
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        shards: dict[str, tuple[Any, int]] = {}
        for item in transact_items:
            _, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if table is not None and getattr(table, "stream_shard", None) is not None:
                shards[table.name] = (table.stream_shard, len(table.stream_shard.items))
        try:
            original(self, transact_items)
        except Exception:
            for name, (shard, length) in shards.items():
                restored = self.tables.get(name)
                if restored is None:
                    continue
                del shard.items[length:]  # the failed transaction's records: DynamoDB never emits them
                shard.table = restored
                restored.stream_shard = shard
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _INSTALLED = True


def cache_dispatch() -> None:
    """Not a difference from AWS, a cost of moto's server: it finds the backend of every request
    by listing its own package directory (``os.listdir`` and an ``isdir`` per entry) and then
    matching the host against every service's URL patterns — about a tenth of the local stack's
    CPU under load. Neither the package nor a host's backend changes while the process runs, so
    both are looked up once (per host)."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_wabaguard_cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    original = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    @functools.wraps(original)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in found:  # the caller holds the dispatcher's lock
            found[host] = original(self, host)
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    DomainDispatcherApplication._wabaguard_cached = True  # type: ignore[attr-defined]
