"""aftersales.demo: service tickets on delivered demo orders, every kind at every step, made through
the ticket services (refunds, stock and history consistent), the demo clerk's desk has work, and
the marker says the scale is loaded."""

import pytest
from django.db import transaction

from aftersales import demo
from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket, TicketStatusChange
from orders.choices import PaymentKind
from orders.models import Payment
from portal.management.commands.seed_demo import seed_app
from tests.helpers import login

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The small demo of the apps before this one, then the tickets, for the whole module, in one
    transaction rolled back after it. (Not a flush: that would also delete the rows the migrations
    seed, such as the warranty policies, which every later test module needs.)"""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            for app in ("catalog", "stores", "members", "orders"):
                seed_app(app, scale="small", seed=2026, log=lambda message: None)
            counts = seed_app("aftersales", scale="small", seed=2026, log=lambda message: None)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield counts
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def test_tickets_of_every_kind_reach_every_step(seeded):
    assert seeded["tickets"] == Ticket.objects.count() == demo.TICKETS_PER_SCALE["small"]
    assert not {label for label in seeded if "skipped" in label or "stopped short" in label}
    kinds = set(Ticket.objects.values_list("kind", flat=True))
    assert kinds == set(TicketKind.values)
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert {TicketStatus.OPENED, TicketStatus.RECEIVED, TicketStatus.REFUSED, TicketStatus.CLOSED} <= statuses
    assert statuses & {TicketStatus.REFUNDED, TicketStatus.EXCHANGED, TicketStatus.REPAIRED}
    assert set(Ticket.objects.values_list("opened_via", flat=True)) == set(OpenedVia.values)


def test_every_ticket_has_its_history_and_every_refund_its_payment(seeded):
    for ticket in Ticket.objects.all():
        steps = list(TicketStatusChange.objects.filter(ticket=ticket).values_list("to_status", flat=True))
        assert steps[0] == TicketStatus.OPENED and steps[-1] == ticket.status
    refunded = Ticket.objects.exclude(refund=None)
    assert refunded.exists()
    for ticket in refunded.select_related("refund"):
        assert ticket.refund.kind == PaymentKind.REFUND and ticket.refund.order_id == ticket.order_id
    assert Payment.objects.filter(kind=PaymentKind.REFUND, tickets__isnull=False).count() == refunded.count()


def test_the_demo_clerk_has_open_tickets_at_the_desk(seeded):
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.get(email="clerk@o2o.test")
    response = login(clerk).get("/portal/service/")
    assert response.status_code == 200
    assert response.context["open_tickets"]


def test_the_marker_says_the_scale_is_loaded(seeded):
    assert demo.loaded_scale() == "small"
