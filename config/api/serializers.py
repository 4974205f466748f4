"""Serializer building blocks the apps' APIs share: fields built once per class and copied
cheaply per instance (the order intake path and every answer that embeds a store)."""

import copy
import re

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class FieldsBuiltOnce:
    # A ModelSerializer that builds its fields from the model once per class, not per instance.
    # DRF rebuilds every field of a ModelSerializer from the model's metadata each time one is
    # made; on the order intake path that was a good part of an answer's Python time. The built
    # fields are copied per instance (as DRF copies declared fields), so no instance shares state.
    # Only for serializers whose fields do not depend on the request. (Comments, not a docstring:
    # drf-spectacular would take a docstring as the description of every serializer using it.)

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()
            type(self)._fields_built = built
        return copied_fields(built)

    @classmethod
    def represent(cls, instance) -> dict:
        # The answer for one row from ONE serializer kept per class: making a serializer with
        # nested ones copies every field of every level, which on the order intake path cost more
        # than turning the order into JSON. Reading fields keeps no state in them, so one instance
        # serves every call. Only for answers that do not depend on the request (no context).
        serializer = cls.__dict__.get("_representer")
        if serializer is None:
            serializer = cls(context={})
            cls._representer = serializer
        return serializer.to_representation(instance)


def _nested(field) -> bool:
    """A field holding other fields (a nested serializer, a list of them, a ListField's child);
    worked out once per prototype field, which keeps the answer."""
    nested = field.__dict__.get("_holds_fields")
    if nested is None:
        nested = isinstance(field, serializers.BaseSerializer) or any(
            isinstance(value, serializers.Field) for value in vars(field).values()
        )
        field._holds_fields = nested
    return nested


def copied_fields(prototypes: dict) -> dict:
    """Per-instance copies of unbound prototype fields, as DRF's deepcopy gives, but cheaper.

    DRF copies a field by calling its __init__ again with the original arguments; a plain field
    copied attribute by attribute is the same field (its validators are shared by DRF's copy
    too), at a fraction of the cost: on the order intake path the copies were ~15% of the
    Python time. Fields holding other fields keep DRF's own copy, so every nested field is bound
    to its own parent; the error messages are copied, since a serializer may adjust them."""
    copies = {}
    for name, field in prototypes.items():
        if _nested(field):
            copies[name] = copy.deepcopy(field)
            continue
        clone = object.__new__(type(field))
        clone.__dict__.update(field.__dict__)
        clone.error_messages = dict(field.error_messages)
        copies[name] = clone
    return copies


class DeclaredFieldsCopied:
    # A plain Serializer whose declared fields are copied with `copied_fields`. (A comment, not a
    # docstring: drf-spectacular would take a docstring as the description of every user.)

    def get_fields(self):
        return copied_fields(self._declared_fields)


class StrictInput:
    # A write serializer that refuses fields it does not know (400 naming them): a typo in
    # `external_reference` must not quietly lose retry protection, as Stripe refuses an unknown
    # parameter. Read-only fields sent in are refused the same way. Nested serializers that use it
    # check their own level. (A comment, not a docstring: drf-spectacular would show it.)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                message = _("Unknown field: this operation does not take it.")
                raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


ASCII_INTEGER = re.compile(r"-?[0-9]{1,18}")


class StrictIntegerField(serializers.IntegerField):
    """A whole number: a JSON integer or its ASCII digits, never 1.0, "1.0", "１" or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and ASCII_INTEGER.fullmatch(data.strip()))
        ):
            self.fail("invalid")
        return super().to_internal_value(data)
