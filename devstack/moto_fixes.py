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
from typing import Any

_INSTALLED = False


def install() -> None:
    """Patch moto's DynamoDB backend once per process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.dynamodb.models import DynamoDBBackend

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
