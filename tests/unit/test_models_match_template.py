"""The template's tables and the PynamoDB models must describe the same keys, indexes, TTL and
stream. A change to one without the other fails here."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model
from wabaguard.models import ALL_MODELS

from devstack.cfn import Stack

STACK = Stack()
TABLES = STACK.of_type("AWS::DynamoDB::Table")
ENV = STACK.environment()


def _model_for(logical_id: str) -> type[Model]:
    name = STACK.default_name(logical_id)
    matches = [m for m in ALL_MODELS if m.Meta.table_name == name]
    assert len(matches) == 1, f"exactly one model must use table {logical_id}, found {matches}"
    return matches[0]


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def test_every_table_has_a_model_and_every_model_a_table() -> None:
    assert {_model_for(t) for t in TABLES} == set(ALL_MODELS)
    table_envs = {v for v in ENV.values() if v in {STACK.default_name(t) for t in TABLES}}
    assert len(table_envs) == len(TABLES), "each table is passed to the functions by environment"


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_keys_indexes_ttl_and_stream_agree(logical_id: str) -> None:
    props: dict[str, Any] = TABLES[logical_id]["Properties"]
    model = _model_for(logical_id)
    schema = model._get_schema()
    assert _keys(props["KeySchema"]) == _keys(schema["key_schema"])
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}

    template_indexes = {i["IndexName"]: _keys(i["KeySchema"]) for i in props.get("GlobalSecondaryIndexes", [])}
    model_indexes = {i["index_name"]: _keys(i["key_schema"]) for i in schema["global_secondary_indexes"]}
    projections = {i["IndexName"]: i["Projection"]["ProjectionType"] for i in props.get("GlobalSecondaryIndexes", [])}
    assert projections == {
        i["index_name"]: i["projection"]["ProjectionType"] for i in schema["global_secondary_indexes"]
    }
    assert template_indexes == model_indexes

    ttl_attrs = {
        attr.attr_name
        for cls in [model, *model.__subclasses__()]
        for attr in cls.get_attributes().values()
        if isinstance(attr, TTLAttribute)
    }
    ttl = props.get("TimeToLiveSpecification")
    assert ttl_attrs == ({ttl["AttributeName"]} if ttl else set())

    stream = props.get("StreamSpecification", {}).get("StreamViewType")
    assert getattr(model.Meta, "stream_view_type", None) == stream


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_tables_are_encrypted_on_demand_and_recoverable(logical_id: str) -> None:
    props = TABLES[logical_id]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
