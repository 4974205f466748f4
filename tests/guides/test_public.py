"""The public side of a guide's QR code: the QR images and printable card, the phone-sized landing
page (scan recorded on GET, member bound on POST, signed scan field), the suspended guide's page,
and the store QR page that records a store scan. Outcomes are asserted in the database."""

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from config.dates import SHANGHAI
from config.roles import SYSTEM
from guides import public_views
from guides.choices import ScanOutcome
from guides.models import Binding, ScanEvent
from guides.public_views import SCAN_SALT
from guides.services import guide_suspend
from members.models import Member
from orders.qr import qr_svg
from stores.choices import StoreStatus
from tests.factories import GuideFactory

pytestmark = pytest.mark.django_db

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0"


def landing(guide):
    return reverse("guides_public:landing", args=[guide.code])


def open_page(client, guide):
    """GET the landing page as a phone would; returns the response and its signed scan field."""
    response = client.get(landing(guide), HTTP_USER_AGENT=PHONE_UA)
    form = response.context.get("form") if response.context else None
    return response, (form.initial["scan"] if form is not None else None)


# --- QR images and the printable card --------------------------------------------------------------


def test_qr_png_is_an_image_that_phones_may_cache(client, world):
    guide = GuideFactory(store=world.a)
    response = client.get(reverse("guides_public:qr_png", args=[guide.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "public, max-age=86400"
    image = Image.open(io.BytesIO(response.content))
    image.verify()
    assert image.format == "PNG"
    assert image.size[0] == image.size[1] > 200


def test_qr_svg_is_valid_xml_encoding_the_absolute_landing_url(client, world):
    guide = GuideFactory(store=world.a)
    response = client.get(reverse("guides_public:qr_svg", args=[guide.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "public" in response["Cache-Control"]
    root = ET.fromstring(response.content)
    assert root.tag.endswith("svg")
    # The same QR as orders/qr.py draws for the short, stable landing address.
    assert response.content == qr_svg(f"http://testserver/g/{guide.code}/")


def test_card_shows_brand_qr_code_and_absolute_url(client, world, settings):
    settings.BRAND_NAME = "LeTV"
    guide = GuideFactory(name="Li Lei", store=world.a)
    response = client.get(reverse("guides_public:card", args=[guide.code]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "LeTV" in page
    assert f"http://testserver/g/{guide.code}/" in page
    assert reverse("guides_public:qr_svg", args=[guide.code]) in page
    assert reverse("guides_public:qr_png", args=[guide.code]) in page
    assert f'<p class="qr-code">{guide.code}</p>' in page
    assert "Li Lei at Store A" in page
    assert "@media print" in page


def test_card_without_brand_setting_says_o2o(client, world, settings):
    if hasattr(settings, "BRAND_NAME"):
        del settings.BRAND_NAME
    guide = GuideFactory()
    response = client.get(reverse("guides_public:card", args=[guide.code]))
    assert '<p class="qr-brand">O2O</p>' in response.content.decode()


def test_unknown_code_is_404_everywhere(client, db):
    for name in ("landing", "card", "qr_png", "qr_svg", "bound"):
        assert client.get(reverse(f"guides_public:{name}", args=["NOSUCH99"])).status_code == 404
    assert (
        client.post(reverse("guides_public:landing", args=["NOSUCH99"]), {"phone": "13800138000"}).status_code
        == 404
    )
    assert not ScanEvent.objects.exists()


# --- the landing page ----------------------------------------------------------------------------


def test_landing_get_records_a_scan_and_asks_for_the_phone(client, world, django_assert_max_num_queries):
    guide = GuideFactory(name="Han Meimei", store=world.a)
    with django_assert_max_num_queries(6):
        response, token = open_page(client, guide)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    page = response.content.decode()
    assert "Han Meimei at Store A" in page
    assert 'name="phone"' in page and 'type="tel"' in page
    scan = ScanEvent.objects.get()
    assert (scan.guide, scan.store, scan.member, scan.outcome) == (guide, world.a, None, ScanOutcome.OPENED)
    assert scan.user_agent == PHONE_UA
    assert signing.loads(token, salt=SCAN_SALT) == {"scan": scan.pk, "guide": guide.pk}


def test_landing_code_is_case_insensitive(client, world):
    guide = GuideFactory(code="ABCD2345")
    assert client.get("/g/abcd2345/").status_code == 200
    assert ScanEvent.objects.get().guide == guide


def test_post_binds_a_new_member_and_goes_to_the_stores_order_page(client, world):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    response = client.post(landing(guide), {"phone": "+86 138-0013-8000", "scan": token})
    assert response.status_code == 302
    assert response["Location"] == reverse("orders_public:store", args=[world.a.code])
    member = Member.objects.get()
    assert member.phone == "13800138000"
    binding = Binding.objects.get()
    assert (binding.member, binding.guide, binding.ended_at, binding.scan_count) == (member, guide, None, 1)
    assert binding.ends_at > timezone.now()
    scan = ScanEvent.objects.get()
    assert (scan.member, scan.outcome) == (member, ScanOutcome.BOUND)


def test_post_for_an_existing_member_binds_that_member(client, world):
    from tests.factories import MemberFactory

    member = MemberFactory(phone="13900000001")
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    client.post(landing(guide), {"phone": "139 0000 0001", "scan": token})
    assert Member.objects.count() == 1
    assert Binding.objects.get().member == member


def test_guide_without_a_store_lands_on_the_confirmation_with_the_last_day(client, db):
    guide = GuideFactory(name="Wang Fang")
    _, token = open_page(client, guide)
    response = client.post(landing(guide), {"phone": "13800138000", "scan": token}, follow=True)
    assert response.redirect_chain == [(reverse("guides_public:bound", args=[guide.code]), 302)]
    binding = Binding.objects.get()
    last_day = (binding.ends_at.astimezone(SHANGHAI) - timedelta(days=1)).date()
    assert response.context["last_day"] == last_day
    assert "Wang Fang is now your shopping guide." in response.content.decode()


def test_guide_of_a_closed_store_lands_on_the_confirmation(client, world):
    guide = GuideFactory(store=world.a)
    world.a.status = StoreStatus.CLOSED
    world.a.save()
    _, token = open_page(client, guide)
    response = client.post(landing(guide), {"phone": "13800138000", "scan": token})
    assert response["Location"] == reverse("guides_public:bound", args=[guide.code])
    assert Binding.objects.filter(guide=guide).count() == 1


def test_bad_phone_shows_the_error_and_binds_nothing(client, world):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    response = client.post(landing(guide), {"phone": "12345", "scan": token})
    assert response.status_code == 200
    assert "not a mainland China mobile number" in response.content.decode()
    assert response.context["form"].errors["phone"]
    assert not Member.objects.exists()
    assert not Binding.objects.exists()
    assert ScanEvent.objects.get().outcome == ScanOutcome.OPENED
    # The page keeps its scan: the corrected number binds through it.
    client.post(landing(guide), {"phone": "13800138000", "scan": response.context["form"]["scan"].value()})
    assert ScanEvent.objects.get().outcome == ScanOutcome.BOUND


def test_double_submit_makes_one_member_and_one_binding(client, world):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    for _ in range(2):
        response = client.post(landing(guide), {"phone": "13800138000", "scan": token})
        assert response["Location"] == reverse("orders_public:store", args=[world.a.code])
    assert Member.objects.count() == 1
    binding = Binding.objects.get()
    assert binding.scan_count == 1
    assert ScanEvent.objects.count() == 1


def test_another_number_on_the_same_page_gets_its_own_scan(client, world):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    client.post(landing(guide), {"phone": "13800138000", "scan": token})
    client.post(landing(guide), {"phone": "13800138001", "scan": token})
    assert sorted(Binding.objects.values_list("member__phone", flat=True)) == ["13800138000", "13800138001"]
    assert sorted(ScanEvent.objects.values_list("member__phone", "outcome")) == [
        ("13800138000", ScanOutcome.BOUND),
        ("13800138001", ScanOutcome.BOUND),
    ]


def test_scan_of_another_guide_rebinds_through_the_pages(client, world):
    first, second = GuideFactory(store=world.a), GuideFactory(store=world.b)
    _, token = open_page(client, first)
    client.post(landing(first), {"phone": "13800138000", "scan": token})
    _, token = open_page(client, second)
    client.post(landing(second), {"phone": "13800138000", "scan": token})
    old, new = Binding.objects.get(guide=first), Binding.objects.get(guide=second)
    assert old.ended_at is not None and old.ended_by == new
    assert new.ended_at is None
    assert ScanEvent.objects.filter(guide=second).get().outcome == ScanOutcome.REBOUND


def test_expired_page_binds_through_a_fresh_scan(client, world, monkeypatch):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    monkeypatch.setattr(public_views, "SCAN_TOKEN_MAX_AGE", -1)  # every token is too old
    response = client.post(landing(guide), {"phone": "13800138000", "scan": token})
    assert response.status_code == 302
    old, fresh = ScanEvent.objects.order_by("id")
    assert (old.member, old.outcome) == (None, ScanOutcome.OPENED)
    assert fresh.outcome == ScanOutcome.BOUND and fresh.member.phone == "13800138000"
    assert Binding.objects.count() == 1


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        signing.dumps({"scan": 1, "guide": 1}, salt="another.salt"),
        "eyJzY2FuIjoxLCJndWlkZSI6MX0:1tAMPer:ed",
    ],
)
def test_forged_scan_token_is_a_400_page_and_binds_nobody(client, world, token):
    guide = GuideFactory(store=world.a)
    open_page(client, guide)
    response = client.post(landing(guide), {"phone": "13800138000", "scan": token})
    assert response.status_code == 400
    assert "scan the code again" in response.content.decode().lower()
    assert not Member.objects.exists()
    assert not Binding.objects.exists()


def test_token_of_another_guide_is_a_400(client, world):
    mine, theirs = GuideFactory(store=world.a), GuideFactory(store=world.a)
    _, token = open_page(client, theirs)
    response = client.post(landing(mine), {"phone": "13800138000", "scan": token})
    assert response.status_code == 400
    assert not Binding.objects.exists()


def test_suspended_guide_lands_on_a_friendly_page_and_binds_nobody(client, world):
    guide = GuideFactory(store=world.a)
    guide_suspend(guide=guide, reason="Complaints", actor=SYSTEM)
    response, token = open_page(client, guide)
    assert response.status_code == 200
    assert token is None and 'name="phone"' not in response.content.decode()
    assert "not in use at the moment" in response.content.decode()
    scan = ScanEvent.objects.get()
    assert (scan.guide, scan.outcome, scan.member) == (guide, ScanOutcome.SUSPENDED, None)
    assert not Binding.objects.exists()


def test_guide_suspended_while_the_page_is_open_binds_nobody(client, world):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    guide_suspend(guide=guide, reason="Complaints", actor=SYSTEM)
    response = client.post(landing(guide), {"phone": "13800138000", "scan": token})
    assert response.status_code == 200
    assert "not in use at the moment" in response.content.decode()
    assert not Binding.objects.exists()
    assert ScanEvent.objects.get().outcome == ScanOutcome.SUSPENDED


def test_landing_post_needs_csrf(world):
    from django.test import Client

    guide = GuideFactory(store=world.a)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(landing(guide))
    token = page.context["form"].initial["scan"]
    assert browser.post(landing(guide), {"phone": "13800138000", "scan": token}).status_code == 403
    assert not Binding.objects.exists()


def test_bound_page_without_this_browsers_binding_shows_no_date(client, db):
    guide = GuideFactory(name="Wang Fang")
    response = client.get(reverse("guides_public:bound", args=[guide.code]))
    assert response.status_code == 200
    assert response.context["last_day"] is None


# --- the store's QR page counts store scans --------------------------------------------------------


def test_store_qr_page_visit_records_a_store_scan(client, world):
    response = client.get(reverse("orders_public:store", args=[world.a.code]), HTTP_USER_AGENT=PHONE_UA)
    assert response.status_code == 200
    scan = ScanEvent.objects.get()
    assert (scan.store, scan.guide, scan.member, scan.outcome) == (world.a, None, None, ScanOutcome.STORE)
    assert scan.user_agent == PHONE_UA


def test_store_qr_page_post_and_closed_store_record_no_scan(client, world):
    client.post(reverse("orders_public:store", args=[world.a.code]), {})
    assert client.get(reverse("orders_public:store", args=[world.c.code])).status_code == 200
    world.b.status = StoreStatus.CLOSED
    world.b.save()
    assert client.get(reverse("orders_public:store", args=[world.b.code])).status_code == 404
    assert list(ScanEvent.objects.values_list("store__code", flat=True)) == [world.c.code]


def test_store_page_after_a_guides_scan_is_not_a_second_scan(client, world):
    guide = GuideFactory(store=world.a)
    _, token = open_page(client, guide)
    response = client.post(landing(guide), {"phone": "13800138000", "scan": token}, follow=True)
    assert response.status_code == 200
    assert list(ScanEvent.objects.values_list("guide", "outcome")) == [(guide.pk, ScanOutcome.BOUND)]
    client.get(reverse("orders_public:store", args=[world.a.code]))  # a later visit is a store scan
    assert ScanEvent.objects.filter(guide=None, store=world.a, outcome=ScanOutcome.STORE).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_double_submit_binds_once(world):
    import threading

    from django.db import connection
    from django.test import Client

    guide = GuideFactory(store=world.a)
    _, token = open_page(Client(), guide)
    taps = 4
    barrier = threading.Barrier(taps)
    statuses = []
    lock = threading.Lock()

    def tap():
        try:
            barrier.wait()
            status = Client().post(landing(guide), {"phone": "13800138000", "scan": token}).status_code
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=tap) for _ in range(taps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * taps
    assert Member.objects.count() == 1
    binding = Binding.objects.get()
    assert binding.scan_count == 1
    assert ScanEvent.objects.get().outcome == ScanOutcome.BOUND
