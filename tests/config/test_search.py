"""The one search box: a member's mobile, a SKU's code or barcode, an order number, a serial number
or a ticket number; one hit opens its page, several are grouped, none says what to do next. Orders,
serials and tickets are scoped to the user's stores: a clerk of store A never finds store C's."""

import re

import pytest
from django.urls import reverse

from aftersales.choices import OpenedVia, TicketKind
from aftersales.services import ticket_open
from config.roles import SYSTEM
from orders.models import SoldUnit
from tests.aftersales.helpers import serial_sku
from tests.aftersales.pages import delivered, page
from tests.factories import GuideFactory, MemberFactory, SKUFactory, clerk_at, hq_user, partner_user
from tests.helpers import login
from tests.world import World

pytestmark = pytest.mark.django_db

SEARCH = "/portal/search/"


@pytest.fixture
def world(db):
    return World()


@pytest.fixture
def member():
    return MemberFactory(phone="13912345678", name="Wang Fang")


@pytest.fixture
def bought(world, member):
    """A serial-tracked TV bought online, shipped and delivered by store A."""
    return delivered(world, member=member, sku=serial_sku("TV-S"), serials=["SN-A-0001"])


def search(client, query):
    return client.get(SEARCH, {"q": query})


def test_the_search_url_is_named_in_the_portal():
    assert reverse("portal:search") == SEARCH


def test_a_mobile_number_opens_the_members_page(world, member):
    response = search(login(clerk_at(world.a)), "139 1234 5678")
    assert response.status_code == 302
    assert response.url.startswith(reverse("members:detail", args=[member.pk]))
    assert login(clerk_at(world.a)).get(response.url).status_code == 200  # the lookup lets them in


@pytest.mark.parametrize("typed", ["6900000000551", "tv55x", "TV55X"])
def test_a_barcode_or_sku_code_opens_the_stock_lookup(world, typed):
    SKUFactory(code="TV55X", barcode="6900000000551")
    response = search(login(clerk_at(world.a)), typed)
    assert response.status_code == 302
    assert response.url == f"{reverse('stores:lookup_start')}?q=TV55X"


def test_an_order_number_opens_the_order_of_my_store(world, bought):
    response = search(login(clerk_at(world.a)), bought.number.lower())
    assert response.status_code == 302
    assert response.url == reverse("orders:detail", args=[bought.number])


def test_a_serial_number_opens_the_order_it_was_sold_on(world, bought):
    unit = SoldUnit.objects.get(serial="SN-A-0001")
    assert unit.line.order_id == bought.pk
    response = search(login(clerk_at(world.a)), " sn-a-0001 ")
    assert response.status_code == 302
    assert response.url == reverse("orders:detail", args=[bought.number])


def test_a_ticket_number_opens_the_ticket(world, bought, member):
    ticket = ticket_open(
        line=bought.lines.get(),
        kind=TicketKind.REPAIR,
        serial="SN-A-0001",
        customer_phone=member.phone,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    response = search(login(clerk_at(world.a)), ticket.number)
    assert response.status_code == 302
    assert response.url == reverse("aftersales:detail", args=[ticket.number])


def test_a_clerk_of_another_store_finds_neither_the_order_nor_the_serial(world, bought):
    clerk_c = login(clerk_at(world.c))
    for query in (bought.number, "SN-A-0001"):
        body = page(search(clerk_c, query))
        assert 'id="search-empty"' in body and 'id="results-' not in body
        assert reverse("orders:detail", args=[bought.number]) not in body
        assert "Orders, serial numbers and tickets of other stores are not shown here." in body


def test_hq_finds_any_stores_order(world, bought):
    response = search(login(hq_user()), bought.number)
    assert response.url == reverse("orders:detail", args=[bought.number])


def test_several_hits_are_grouped_by_kind(world, bought):
    """A SKU coded like a sold serial: both are shown, under their headings, to pick from."""
    SKUFactory(code="SN-A-0001")
    body = page(search(login(clerk_at(world.a)), "SN-A-0001"))
    assert 'id="results-skus"' in body and 'id="results-serials"' in body
    assert "2 matches for “SN-A-0001”" in body
    assert f'href="{reverse("orders:detail", args=[bought.number])}"' in body
    assert f'href="{reverse("aftersales:desk")}?q=SN-A-0001"' in body  # the serial's next step


def test_nothing_found_says_what_to_do_next(world):
    body = page(search(login(clerk_at(world.a)), "13700000000"))
    assert "Nothing found for “13700000000”" in body
    assert f'href="{reverse("members:register")}?phone=13700000000"' in body
    assert f'href="{reverse("aftersales:desk")}?q=13700000000"' in body
    assert "Check the number and type it again." in body


def test_an_empty_search_asks_for_a_number(world):
    body = page(search(login(clerk_at(world.a)), "  "))
    assert 'id="search-start"' in body and 'id="search-empty"' not in body


def test_a_long_or_odd_query_is_not_an_error(world):
    response = search(login(clerk_at(world.a)), "x" * 500 + "%' OR 1=1 --")
    assert response.status_code == 200
    assert 'id="search-empty"' in page(response)


def test_guides_find_no_members(world, member):
    body = page(search(login(GuideFactory().user), member.phone))
    assert 'id="search-empty"' in body
    assert reverse("members:detail", args=[member.pk]) not in body
    assert reverse("members:register") not in body


def test_a_partner_finds_only_its_stores_members_and_is_not_sent_to_the_desk(world, member):
    """members.policies: a partner sees the members whose home store it runs (issue 14's trust
    model), as on the member pages; it registers nobody and has no desk."""
    from tests.factories import PartnerFactory

    partner = PartnerFactory()
    client = login(partner_user(partner))
    body = page(search(client, member.phone))
    assert 'id="search-empty"' in body and reverse("members:detail", args=[member.pk]) not in body
    assert reverse("members:register") not in body
    world.a.partner = partner
    world.a.save()
    member.home_store = world.a
    member.save()
    assert search(client, member.phone).url.startswith(reverse("members:detail", args=[member.pk]))
    assert reverse("aftersales:desk") not in page(search(client, "NOTHING-HERE"))


def test_search_runs_in_a_fixed_number_of_queries(world, bought, django_assert_max_num_queries):
    client = login(clerk_at(world.a))
    client.get(SEARCH)  # session and user loaded once
    for query in ("NOTHING-HERE", "13912345678", bought.number, "SN-A-0001"):
        # The policies ask whether the clerk works a counter (desk, member lookup): 2 more than
        # the group names alone, which said "clerk" even with no store.
        with django_assert_max_num_queries(11):
            search(client, query)


def test_the_header_has_the_search_box_on_other_pages(world):
    body = page(login(clerk_at(world.a)).get(reverse("stores:list")))
    assert re.search(r'<input type="search" name="q" id="nav-search-q"', body)
    assert 'class="visually-hidden">Look up a mobile, barcode, SKU, order or serial number</label>' in body


@pytest.mark.parametrize("query", ["\x00", "SN-A\x00", "\x00" * 300])
def test_a_nul_byte_is_the_box_s_error_not_a_500(world, bought, query):
    """Issue 14, defect 5: PostgreSQL refuses a NUL in a string literal, so the query never runs."""
    response = search(login(clerk_at(world.a)), query)
    assert response.status_code == 400
    body = page(response)
    assert 'id="search-errors"' in body and "Null characters are not allowed." in body


@pytest.mark.parametrize(
    "query", ["1" * 13, "1e400", "x" * 300, "%", "１３９１２３４５６７８", "😀", "\u202eSN-A-0001"]
)
def test_hostile_queries_find_nothing_and_say_so(world, bought, query):
    response = search(login(clerk_at(world.a)), query)
    assert response.status_code == 200 and 'id="search-empty"' in page(response)
