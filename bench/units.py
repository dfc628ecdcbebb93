"""DynamoDB request units of the calls a run really makes, as DynamoDB bills them on demand.

The bench once assumed 2 items per transaction and 1 KB per item; this reads each call's own
parameters and the items it touches instead (issue #26): item sizes by DynamoDB's rules, a
transactional write or condition check 2 units per KB, an index entry 1 unit per KB for each index
the item enters, leaves or moves in, reads per 4 KB (half a unit when eventually consistent).

What stays an approximation is said here: an item's size is computed from its attributes the way
the DynamoDB developer guide describes ("Item sizes and formats"), not read from DynamoDB, which
does not report it; moto's own ``ConsumedCapacity`` is not used because it does not model sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

WRITE_KB = 1024
READ_KB = 4096


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's wire format (``{"S": ...}``, ``{"M": ...}`` ...)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = Decimal(inner).normalize().as_tuple().digits
        return min(21, 1 + math.ceil(len(digits) / 2))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of an item: every attribute's name plus its value."""
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def write_units(size: int, factor: int = 1) -> int:
    return factor * max(1, math.ceil(size / WRITE_KB))


def read_units(size: int, consistent: bool, factor: int = 1) -> float:
    return factor * max(1, math.ceil(size / READ_KB)) * (1.0 if consistent else 0.5)


class Tables:
    """Each table's key and index key attributes, from DescribeTable (the template's tables in moto)."""

    def __init__(self, describe: Callable[[str], dict[str, Any]]) -> None:
        self._describe = describe
        self._described: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, tuple[list[str], list[list[str]]]] = {}

    def described(self, table: str) -> dict[str, Any]:
        """The table's DescribeTable ``Table``, asked once."""
        if table not in self._described:
            self._described[table] = self._describe(table)["Table"]
        return self._described[table]

    def shape(self, table: str) -> tuple[list[str], list[list[str]]]:
        if table not in self._cache:
            t = self.described(table)
            key = [k["AttributeName"] for k in t["KeySchema"]]
            indexes = [
                [k["AttributeName"] for k in i["KeySchema"]]
                for i in t.get("GlobalSecondaryIndexes", []) + t.get("LocalSecondaryIndexes", [])
            ]
            self._cache[table] = (key, indexes)
        return self._cache[table]

    def key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.shape(table)[0]}

    def index_writes(self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
        """Units written to the table's indexes when an item goes from ``before`` to ``after``."""
        units = 0
        for attrs in self.shape(table)[1]:
            was = before is not None and all(a in before for a in attrs)
            now = after is not None and all(a in after for a in attrs)
            if was and now:
                moved = any(before[a] != after[a] for a in attrs)  # type: ignore[index]
                changed = before != after
                units += (
                    (write_units(item_size(before)) + write_units(item_size(after)))
                    if moved
                    else (write_units(item_size(after)) if changed else 0)
                )
            elif was:
                units += write_units(item_size(before))
            elif now:
                units += write_units(item_size(after))
        return units


class Units:
    """Counts the read and write request units of DynamoDB calls as they are made.

    ``get`` reads an item without being counted (the bench's own look at sizes before and after a
    write); ``around`` wraps one call so its items can be read before and after it."""

    def __init__(self, get: Callable[[str, dict[str, Any]], dict[str, Any] | None], tables: Tables) -> None:
        self.get = get
        self.tables = tables
        self.read = 0.0
        self.write = 0.0
        self.index_write = 0.0

    def _writes(
        self, params: dict[str, Any], operation: str
    ) -> list[tuple[str, dict[str, Any], int, dict[str, Any] | None]]:
        """(table, key, factor, put item) of every item the write touches."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            item = params.get("Item")
            key = params.get("Key") or self.tables.key_of(table, item or {})
            return [(table, key, 1, item)]
        out = []
        if operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                table = body["TableName"]
                item = body.get("Item")
                key = body.get("Key") or self.tables.key_of(table, item or {})
                out.append(
                    (table, key, 2, item if kind == "Put" else None)
                    if kind != "ConditionCheck"
                    else (table, key, 2, None)
                )
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        item = r["PutRequest"]["Item"]
                        out.append((table, self.tables.key_of(table, item), 1, item))
                    else:
                        out.append((table, r["DeleteRequest"]["Key"], 1, None))
        return out

    def before(
        self, operation: str, params: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any], int, dict[str, Any] | None]]:
        touched = self._writes(params, operation)
        return [(t, k, f, self.get(t, k)) for t, k, f, _ in touched]

    def after(
        self,
        operation: str,
        params: dict[str, Any],
        result: dict[str, Any],
        before: list[tuple[str, dict[str, Any], int, dict[str, Any] | None]],
    ) -> None:
        condition_checks = {i for i, e in enumerate(params.get("TransactItems", [])) if "ConditionCheck" in e}
        for i, (table, key, factor, old) in enumerate(before):
            new = self.get(table, key)
            self.write += write_units(max(item_size(old), item_size(new)), factor)
            if i not in condition_checks:
                self.index_write += self.tables.index_writes(table, old, new)
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            self.read += read_units(item_size(result.get("Item")), consistent)
        elif operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in result.get("Items", []))
            self.read += read_units(size, consistent and "IndexName" not in params)
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                found = {
                    tuple(sorted((k, str(v)) for k, v in self.tables.key_of(table, item).items())): item
                    for item in result.get("Responses", {}).get(table, [])
                }
                for key in request["Keys"]:
                    item = found.get(tuple(sorted((k, str(v)) for k, v in key.items())))
                    self.read += read_units(item_size(item), bool(request.get("ConsistentRead")))
        elif operation == "TransactGetItems":
            for response in result.get("Responses", []):
                self.read += read_units(item_size(response.get("Item")), True, factor=2)
