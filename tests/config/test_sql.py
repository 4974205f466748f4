"""config.sql: model rows written and read as plain SQL must be the rows the ORM writes and reads."""

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Price
from config.sql import Batch, fetch
from integrations.models import OutboxEvent
from tests.factories import ChannelFactory, SKUFactory

pytestmark = pytest.mark.django_db


def test_a_batch_writes_rows_of_several_models_as_save_would_in_one_round_trip():
    sku, channel = SKUFactory(code="TV-55"), ChannelFactory(code="mall")
    start = timezone.now()
    prices = [
        Price(sku=sku, channel=channel, amount=Decimal("2999.00"), valid_from=start),
        Price(sku=sku, channel=None, amount=Decimal("3099.50"), valid_from=start),
    ]
    event = OutboxEvent(
        event_id=uuid.uuid4(),
        type="price.changed",
        payload={"sku": "TV-55", "amount": "2999.00"},
        channel_id=channel.pk,
    )
    batch = (
        Batch()
        .rows(prices)
        .rows([event])
        .sql("SELECT count(*) FROM catalog_price WHERE sku_id = %s", [sku.pk])
    )

    with CaptureQueriesContext(connection) as queries:
        answers = batch.run()

    assert len(queries) == (1 if connection.vendor == "postgresql" else 3)
    assert answers[-1] == [(2,)]  # the later statement sees the earlier ones' rows
    assert all(price.pk and not price._state.adding for price in prices) and event.pk
    stored = {price.pk: price for price in Price.objects.filter(sku=sku)}
    assert [(stored[p.pk].channel_id, stored[p.pk].amount) for p in prices] == [
        (channel.pk, Decimal("2999.00")),
        (None, Decimal("3099.50")),
    ]
    assert stored[prices[0].pk].created_at == prices[0].created_at  # auto_now_add filled, as save() does
    saved = OutboxEvent.objects.get(pk=event.pk)
    assert (saved.event_id, saved.payload) == (event.event_id, {"sku": "TV-55", "amount": "2999.00"})


def test_rows_of_the_model_the_statement_before_inserts_join_its_insert():
    # An order's own event and its coupon's are queued one after the other: one INSERT, every row
    # keeps its key, in the order queued. Rows of another model in between start a new statement.
    channel = ChannelFactory(code="mall")
    events = [
        OutboxEvent(event_id=uuid.uuid4(), type=kind, payload={"n": n}, channel_id=channel.pk)
        for n, kind in enumerate(["order.created", "coupon.redeemed", "coupon.redeemed"])
    ]
    price = Price(sku=SKUFactory(), channel=channel, amount=Decimal("10.00"), valid_from=timezone.now())
    later = OutboxEvent(event_id=uuid.uuid4(), type="price.changed", payload={}, channel_id=channel.pk)
    batch = Batch().rows(events[:1]).rows(events[1:]).rows([price]).rows([later])

    assert len(batch) == 3
    batch.run()

    assert [e.pk for e in events] == sorted(e.pk for e in events) and events[0].pk < later.pk
    stored = {e.pk: (e.type, e.payload) for e in OutboxEvent.objects.all()}
    assert [stored[e.pk] for e in events] == [(e.type, e.payload) for e in events]
    assert Price.objects.get().pk == price.pk and len(stored) == 4


def test_a_refused_row_raises_djangos_integrity_error_and_the_batch_is_undone():
    # Callers catch django.db.IntegrityError (a retried order's key): the batch must raise that.
    sku = SKUFactory(code="TV-55")
    with pytest.raises(IntegrityError), transaction.atomic():
        Batch().rows([OutboxEvent(event_id=uuid.uuid4(), type="x", payload={})]).rows(
            [Price(sku_id=sku.pk + 1000, amount=Decimal(1), valid_from=timezone.now())]
        ).run()
        connection.check_constraints()  # SQLite checks foreign keys at commit; ask now
    assert not OutboxEvent.objects.exists() and not Price.objects.exists()


class Refused(Exception):
    pass


def test_a_batch_extended_by_another_runs_its_statements_after_ours_and_keeps_its_refusals():
    sku = SKUFactory(code="TV-55")
    ours = Batch().sql("SELECT %s", [1])
    theirs = (
        Batch()
        .sql("SELECT %s", [2])
        .sql("SELECT id FROM catalog_sku WHERE id = %s", [sku.pk + 1000], refuse=lambda: Refused("none"))
    )

    ours.extend(theirs)

    assert (len(ours), len(theirs)) == (3, 0)
    with pytest.raises(Refused):  # the refusal moved with its statement (now the third)
        ours.run()
    kept = (
        Batch()
        .sql("SELECT %s", [1])
        .extend(
            Batch().sql("SELECT id FROM catalog_sku WHERE id = %s", [sku.pk], refuse=lambda: Refused("none"))
        )
    )
    assert kept.run() == [[(1,)], [(sku.pk,)]]


def test_fetch_builds_the_rows_the_orm_builds():
    sku, channel = SKUFactory(code="TV-55"), ChannelFactory(code="mall")
    Price.objects.create(sku=sku, channel=channel, amount=Decimal("2999.00"), valid_from=timezone.now())
    Price.objects.create(sku=sku, channel=None, amount=Decimal("12.50"), valid_from=timezone.now())

    rows = fetch(Price, 'SELECT * FROM "catalog_price" WHERE "sku_id" = %s ORDER BY "id"', [sku.pk])

    orm = list(Price.objects.filter(sku=sku).order_by("id"))
    fields = [f.attname for f in Price._meta.concrete_fields]
    assert [[getattr(r, f) for f in fields] for r in rows] == [[getattr(r, f) for f in fields] for r in orm]
    assert isinstance(rows[1].amount, Decimal) and rows[1].valid_from.tzinfo is not None
    assert not rows[0]._state.adding and rows[0].sku.code == "TV-55"
    assert fetch(Price, 'SELECT * FROM "catalog_price" WHERE "sku_id" = %s', [sku.pk + 1000]) == []


def test_reads_queued_on_a_batch_answer_after_it_ran_and_move_with_extend():
    sku = SKUFactory(code="TV-55")
    ours = Batch()
    code = ours.read("SELECT code FROM catalog_sku WHERE id = %s", [sku.pk], lambda rows: rows[0][0])
    theirs = Batch()
    none = theirs.read("SELECT id FROM catalog_sku WHERE id = %s", [sku.pk + 1000], lambda rows: rows or None)
    count = theirs.read("SELECT count(*) FROM catalog_sku", [], lambda rows: rows[0][0])
    assert not hasattr(code, "value")  # nothing is answered before the batch runs
    ours.extend(theirs)

    with CaptureQueriesContext(connection) as queries:
        ours.run()

    assert len(queries) == (1 if connection.vendor == "postgresql" else 3)
    assert (code.value, none.value, count.value) == ("TV-55", None, 1)
