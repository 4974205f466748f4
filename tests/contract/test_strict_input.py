"""Every API write refuses what it does not understand (issue 14, defect 9): walked from drf-spectacular's
generator, so a new operation is checked without being listed here.

- every POST/PUT/PATCH operation's request serializer, and every writable serializer nested in it,
  inherits config.api.serializers.StrictInput (unknown fields are a 400 naming them);
- every writable integer field in them is a StrictIntegerField (1.0, "1.0", "１" and true refused)."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers

from config.api.serializers import StrictInput, StrictIntegerField

WRITES = ("POST", "PUT", "PATCH")

# Integer fields that are not quantities, points or ids a client types: none so far. Add
# "<module>.<Serializer>.<field>": "why" only with a reason a reviewer would accept.
INTEGER_EXCEPTIONS: dict[str, str] = {}


@pytest.fixture(scope="module")
def write_operations(django_db_blocker):
    """[(method, path, request serializer instance)] for every write operation in the schema."""
    found = []
    original = AutoSchema._get_request_body  # every operation's; extend_schema overrides the getter

    def spy(self, *args, **kwargs):
        if self.method in WRITES:
            found.append((self.method, self.path, self.get_request_serializer()))
        return original(self, *args, **kwargs)

    AutoSchema._get_request_body = spy
    try:
        with django_db_blocker.unblock():
            SchemaGenerator().get_schema(request=None, public=True)
    finally:
        AutoSchema._get_request_body = original
    return found


def _serializers_in(request_serializer):
    if request_serializer is None:
        return []
    if isinstance(request_serializer, dict):  # per media type
        return [s for value in request_serializer.values() for s in _serializers_in(value)]
    if isinstance(request_serializer, type):
        if not issubclass(request_serializer, serializers.BaseSerializer):
            return []  # a plain type: no serializer
    elif not isinstance(request_serializer, serializers.BaseSerializer):
        return []  # an OpenApiTypes or an inline schema
    return [force_instance(request_serializer)]


def _walk(serializer, seen=None):
    """The serializer and every writable serializer nested in it: (serializer, its writable fields)."""
    seen = set() if seen is None else seen
    if isinstance(serializer, serializers.ListSerializer):
        serializer = serializer.child
    if id(type(serializer)) in seen:
        return
    seen.add(id(type(serializer)))
    fields = {name: field for name, field in serializer.fields.items() if not field.read_only}
    yield serializer, fields
    for field in fields.values():
        nested = field
        while isinstance(nested, serializers.ListField | serializers.DictField):
            nested = nested.child
        if isinstance(nested, serializers.BaseSerializer):
            yield from _walk(nested, seen)


def _name(serializer) -> str:
    cls = type(serializer)
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_walk_finds_the_write_operations(write_operations):
    paths = {path for _method, path, _serializer in write_operations}
    assert "/api/v1/orders/" in paths
    assert "/api/v1/api-keys/" in paths
    assert len(write_operations) > 20


def test_every_write_operations_input_refuses_unknown_fields(write_operations):
    missing = {}
    for method, path, request_serializer in write_operations:
        for top in _serializers_in(request_serializer):
            for serializer, fields in _walk(top):
                if fields and not isinstance(serializer, StrictInput):
                    missing.setdefault(_name(serializer), []).append(f"{method} {path}")
    assert missing == {}, "\n".join(f"{name}: {', '.join(ops)}" for name, ops in sorted(missing.items()))


def test_every_integer_an_api_write_takes_is_a_strict_integer(write_operations):
    loose = {}
    for method, path, request_serializer in write_operations:
        for top in _serializers_in(request_serializer):
            for serializer, fields in _walk(top):
                for name, field in fields.items():
                    inner = field
                    while isinstance(inner, serializers.ListField | serializers.DictField):
                        inner = inner.child
                    key = f"{_name(serializer)}.{name}"
                    if (
                        isinstance(inner, serializers.IntegerField)
                        and not isinstance(inner, StrictIntegerField)
                        and key not in INTEGER_EXCEPTIONS
                    ):
                        loose.setdefault(key, []).append(f"{method} {path}")
    assert loose == {}, "\n".join(f"{name}: {', '.join(ops)}" for name, ops in sorted(loose.items()))


def test_the_walk_reaches_nested_writable_serializers_and_integers_in_lists():
    class Line(serializers.Serializer):
        quantity = serializers.IntegerField()

    class Body(StrictInput, serializers.Serializer):
        lines = Line(many=True)
        ids = serializers.ListField(child=serializers.IntegerField())
        shown = Line(read_only=True)

    walked = {type(s).__name__: sorted(fields) for s, fields in _walk(Body())}

    assert walked == {"Body": ["ids", "lines"], "Line": ["quantity"]}
    assert not isinstance(Line(), StrictInput)
