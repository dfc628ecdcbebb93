"""Where the notifier keeps its exactly-once records: Powertools Idempotency's DynamoDB layer,
on the layer's one DynamoDB client, made when the first record is checked.

Powertools' layer makes a boto3 session and a client of its own in ``__init__`` — at import, since
the idempotent function is decorated at module level: about a fifth of the notifier's cold start
(issue 26), for a client no other function of ours makes before its first call either.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from wabaguard import aws


class _NotYet:
    """What the client is while Powertools' ``__init__`` runs: it only registers a user-agent
    feature, which it skips for an object without an event system."""


class DeferredDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB persistence layer whose client is ``wabaguard.aws.client("dynamodb")``:
    made on first use, shared with the rest of the layer, and made anew after ``reset_clients``
    (the local stack and the tests switch moto worlds)."""

    def __init__(self, table_name: str) -> None:
        self._started = False
        super().__init__(table_name=table_name, boto3_client=_NotYet())  # type: ignore[arg-type]
        self._started = True

    @property  # type: ignore[override]
    def client(self) -> Any:
        return aws.client("dynamodb") if self._started else _NotYet()

    @client.setter
    def client(self, value: Any) -> None:
        """Powertools sets its client in ``__init__``: the layer's own is used instead."""
