"""The OpenAPI schema's examples (portal/api_examples.py): every error response of every operation
shows the error shape, the main integrator operations show a request and a response, a 429
documents Retry-After, and every example is valid against the schema it illustrates - strictly:
no property the schema does not list, nullable only where the schema says so."""

from copy import deepcopy

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from portal.api_examples import MAIN_OPERATIONS, RESPONSES

JSON = "application/json"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield path, method, operation


def _strict(node):
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a null alternative, and an object
    that lists its properties admits no others."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def validator(schema, node):
    root = {
        **_strict(deepcopy(node)),
        "components": {"schemas": _strict(deepcopy(schema["components"]["schemas"]))},
    }
    return jsonschema.Draft7Validator(root)


def examples_of(media: dict) -> dict:
    return media.get("examples") or {}


def test_every_error_response_has_examples_of_the_error_shape(schema):
    missing, checked = [], 0
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if int(code) < 400:
                continue
            media = response["content"][JSON]
            examples = examples_of(media)
            if not examples:
                missing.append(f"{method.upper()} {path} {code}")
                continue
            for name, example in examples.items():
                value = example["value"]
                assert set(value) == {"code", "message", "fields"}, (path, code, name)
                assert value["code"] and value["message"], (path, code, name)
                checked += 1
    assert not missing, "error responses without examples:\n" + "\n".join(missing)
    assert checked > 300


def test_the_examples_say_what_each_status_means(schema):
    codes = {}
    for _path, _method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                for example in examples_of(response["content"][JSON]).values():
                    codes.setdefault(int(code), set()).add(example["value"]["code"])
    assert {"key_invalid", "key_revoked", "key_expired"} <= codes[401]
    assert {"scope_missing", "not_authenticated", "permission_denied", "key_forbidden"} <= codes[403]
    assert {"idempotency_conflict", "idempotency_in_progress", "insufficient_points"} <= codes[409]
    assert {"invalid", "price_mismatch"} <= codes[400]
    assert codes[404] == {"not_found"} and codes[429] == {"throttled"}


def test_a_field_error_names_the_field(schema):
    orders_create = next(op for _p, _m, op in operations(schema) if op["operationId"] == "orders_create")
    examples = orders_create["responses"]["400"]["content"][JSON]["examples"]
    assert examples["invalid"]["value"]["fields"] == {"channel": ["This field is required."]}
    assert examples["price_mismatch"]["value"]["fields"] == {
        "lines[0].unit_price": ["Does not match the live price."]
    }


def test_a_429_documents_retry_after(schema):
    for path, method, operation in operations(schema):
        response = operation["responses"].get("429")
        if response is not None:
            assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}, (method, path)


def test_the_main_operations_have_request_and_response_examples(schema):
    by_id = {operation["operationId"]: operation for _p, _m, operation in operations(schema)}
    expected = {
        "orders_create",
        "orders_pay_create",
        "orders_cancel_create",
        "members_upsert_create",
        "members_points_earn_create",
        "members_points_redeem_create",
        "tickets_create",
        "prices_create",
        "guides_scans_create",
        "api_keys_create",
    }
    assert expected <= set(MAIN_OPERATIONS)
    for op_id in MAIN_OPERATIONS:
        operation = by_id[op_id]
        assert examples_of(operation["requestBody"]["content"][JSON]), op_id
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert any(examples_of(operation["responses"][code]["content"][JSON]) for code in success), op_id
    for op_id in ("statements_list", "members_points_retrieve", "orders_retrieve"):
        assert examples_of(by_id[op_id]["responses"]["200"]["content"][JSON]), op_id
    assert set(RESPONSES) <= set(by_id)


def test_every_example_is_valid_against_its_schema(schema):
    errors, checked = [], 0
    for path, method, operation in operations(schema):
        media_list = [("request", (operation.get("requestBody") or {}).get("content", {}).get(JSON))]
        media_list += [
            (code, response.get("content", {}).get(JSON)) for code, response in operation["responses"].items()
        ]
        for where, media in media_list:
            if not media:
                continue
            check = validator(schema, media["schema"])
            for name, example in examples_of(media).items():
                checked += 1
                for error in check.iter_errors(example["value"]):
                    errors.append(
                        f"{method.upper()} {path} {where} {name}: {error.message} at {list(error.path)}"
                    )
    assert not errors, "\n".join(errors[:40])
    assert checked > 300


def test_the_strict_check_catches_a_wrong_example(schema):
    by_id = {operation["operationId"]: operation for _p, _m, operation in operations(schema)}
    media = by_id["orders_create"]["requestBody"]["content"][JSON]
    check = validator(schema, media["schema"])
    good = media["examples"]["ship"]["value"]
    assert check.is_valid(good)
    assert not check.is_valid({**good, "colour": "red"})
    assert not check.is_valid({**good, "delivery_method": None})
    assert not check.is_valid({**good, "lines": [{"quantity": 1}]})
