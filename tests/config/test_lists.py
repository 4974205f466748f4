"""The one list component (config/tables.py, templates/includes/list_table.html) and the one status
badge (config/badges.py): sorting, paging and CSV as every list does them, and the state machines'
answers the pages ask instead of comparing status strings."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from aftersales.choices import TicketStatus
from catalog.models import SKU
from catalog.tables import SKUTable
from config.tables import SORT_FIELD
from guides.choices import StatementParty, StatementStatus
from guides.models import Statement
from marketing.choices import CampaignStatus, CodeStatus
from marketing.models import Campaign, CouponCode
from orders.choices import DeliveryMethod, OrderStatus
from orders.models import Order
from tests.aftersales.pages import delivered, make_ticket
from tests.factories import GuideFactory, MemberFactory, SKUFactory, hq_user
from tests.world import World

pytestmark = pytest.mark.django_db


def _skus(n):
    skus = [SKUFactory(code=f"K{i:02d}") for i in range(n)]
    return SKU.objects.filter(pk__in=[s.pk for s in skus]).select_related("product").order_by("code")


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


# --- sorting and paging --------------------------------------------------------------------------


@pytest.mark.parametrize("asked", ["-code", "code", "nonsense", "-", "\x00", "barcode", "code,-code"])
def test_a_list_sorts_by_its_sortable_columns_only(asked):
    request = RequestFactory().get("/", {SORT_FIELD: asked})
    table = SKUTable(_skus(3), request=request)
    codes = [sku.code for sku in table.page_obj]
    assert codes == (["K02", "K01", "K00"] if asked == "-code" else ["K00", "K01", "K02"])


@pytest.mark.parametrize(("asked", "shown"), [("1", 1), ("2", 2), ("abc", 1), ("99", 2), ("-1", 2), ("", 1)])
def test_a_bad_or_too_high_page_number_gives_the_nearest_page(asked, shown):
    table = SKUTable(_skus(3), per_page=2, request=RequestFactory().get("/", {"page": asked}))
    assert table.page_obj.number == shown
    assert len(table.page_obj) == (2 if shown == 1 else 1)


def test_the_pages_links_keep_the_filter_and_the_sort(client):
    client.force_login(hq_user())
    _skus(60)
    body = client.get(reverse("catalog:sku_list"), {"q": "K", "sort": "-code"}).content.decode()
    assert "Page 1 of 2" in body
    assert 'href="?q=K&amp;sort=-code&amp;page=2" rel="next"' in body
    # a sort link starts again at page 1
    second = client.get(
        reverse("catalog:sku_list"), {"q": "K", "sort": "-code", "page": "2"}
    ).content.decode()
    assert 'href="?q=K&amp;sort=code" title="Sort by this column"' in second


# --- CSV -----------------------------------------------------------------------------------------


def test_the_csv_has_every_row_with_raw_values_and_neutral_formulas(client):
    client.force_login(hq_user())
    skus = _skus(3)
    first = skus.first()
    first.name = "=HYPERLINK(1)"
    first.unified = True
    first.save()
    response = client.get(reverse("catalog:sku_list"), {"format": "csv", "page": "2"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="skus-')
    rows = _csv(response)
    assert [row["code"] for row in rows] == ["K00", "K01", "K02"]  # every row, not a page of them
    assert list(rows[0]) == ["code", "name", "product", "barcode", "unified"]  # no buttons
    assert rows[0]["name"] == "'=HYPERLINK(1)"
    assert rows[0]["product"] == first.product.code
    assert (rows[0]["unified"], rows[1]["unified"]) == ("True", "False")


def test_the_orders_csv_leaves_the_member_out(client):
    world = World()
    member = MemberFactory(name="Han Meimei", phone="13700137000")
    order = world.pay(world.ship_order(member=member))
    client.force_login(hq_user())
    response = client.get(reverse("orders:list"), {"format": "csv"})
    rows = _csv(response)
    assert [(row["number"], row["status"], row["total"]) for row in rows] == [
        (order.number, order.status, str(order.total))
    ]
    assert "member" not in rows[0]
    assert "Han Meimei" not in str(rows) and "13700137000" not in str(rows)


def test_a_list_without_an_export_ignores_format_csv(client):
    client.force_login(hq_user())
    response = client.get(reverse("orders:queue_start"), {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


# --- narrow screens: every cell says its label --------------------------------------------------


def test_every_cell_of_a_list_says_its_label_and_the_amount_is_marked(client):
    world = World()
    world.pay(world.ship_order())
    client.force_login(hq_user())
    body = client.get(reverse("orders:list")).content.decode()
    assert 'data-label="Status"><span class="cell"><span class="badge info" data-status="allocated">' in body
    assert 'class="money num" data-label="Total"><span class="cell">2999.00</span>' in body
    assert "hide-phone" not in body


# --- one badge, and the state machines' answers ---------------------------------------------------


def _badge(obj) -> str:
    return Template("{% load ui %}{% status_badge obj %}").render(Context({"obj": obj}))


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        (OrderStatus.CREATED, "badge warn"),
        (OrderStatus.PAID, "badge info"),
        (OrderStatus.COMPLETED, "badge ok"),
        (OrderStatus.CANCELLED, "badge err"),
        (OrderStatus.RETURNED, "badge err"),
    ],
)
def test_an_orders_badge_says_its_status_in_its_colour(status, tone):
    badge = _badge(Order(status=status))
    assert badge == f'<span class="{tone}" data-status="{status}">{OrderStatus(status).label}</span>'


def test_an_order_may_be_paid_only_while_created_and_awaits_pickup_only_when_ready():
    assert Order(status=OrderStatus.CREATED).is_payable
    assert not any(Order(status=s).is_payable for s in OrderStatus.values if s != OrderStatus.CREATED)
    ready = Order(status=OrderStatus.READY_FOR_PICKUP, delivery_method=DeliveryMethod.PICKUP)
    assert ready.awaits_pickup
    assert not Order(status=OrderStatus.ACCEPTED, delivery_method=DeliveryMethod.PICKUP).awaits_pickup


def test_a_statement_is_approved_from_draft_and_paid_once_approved():
    guide = GuideFactory()
    statement = Statement(party=StatementParty.GUIDE, guide=guide, period=date(2025, 3, 1), total=Decimal(1))
    answers = {}
    for status in StatementStatus.values:
        statement.status = status
        answers[status] = (statement.can_be_approved, statement.can_be_paid, statement.status_tone)
    assert answers == {
        "draft": (True, False, "warn"),
        "approved": (False, True, "info"),
        "paid": (False, False, "ok"),
    }


def test_a_ticket_opened_online_awaits_a_counter_until_a_store_receives_it():
    world = World()
    order = delivered(world)
    ticket = make_ticket(order)
    assert ticket.awaits_take_in and ticket.status_tone == "warn"
    ticket.handling_store = world.a
    assert not ticket.awaits_take_in
    received = make_ticket(order, status=TicketStatus.RECEIVED)
    assert not received.awaits_take_in and received.status_tone == "info"


def test_a_campaign_and_a_held_code_outside_its_window_say_so_on_their_badges():
    assert Campaign(status=CampaignStatus.SENT).is_sent
    assert 'class="badge warn"' in _badge(Campaign(status=CampaignStatus.DRAFT))
    code = CouponCode(status=CodeStatus.HELD)
    code.usable = False
    assert _badge(code) == '<span class="badge warn" data-status="held">Not valid now</span>'
    code.usable = True
    assert _badge(code) == '<span class="badge ok" data-status="held">Held</span>'
    assert (
        _badge(CouponCode(status=CodeStatus.REDEEMED))
        == '<span class="badge" data-status="redeemed">Redeemed</span>'
    )
