"""A newcomer signs up as a shopping guide on their phone and gets their QR code; a partner opens
their home on a phone and sees their money and its chart."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import expect

from config.dates import shanghai_date, shanghai_midnight
from guides.models import CommissionEntry, Guide
from guides.views import last_months
from stores.models import Store
from tests.browser.conftest import PHONE
from tests.factories import GuideFactory, PartnerFactory, partner_user
from tests.guides import pages
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_guide_signs_up_on_a_phone_and_sees_their_qr_code(open_screen):
    screen = open_screen(PHONE)
    page = screen.page
    screen.goto("/g/join/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Become a shopping guide")
    screen.check("1-join")

    page.get_by_label("Your name").fill("Wang Fang")
    page.get_by_label("Mobile number").fill("139 1234 5678")
    page.get_by_label("Email", exact=True).fill("wang.fang@example.com")
    page.get_by_label("Password", exact=True).fill("Tall-Orange-Kite-2026")
    page.get_by_label(re.compile(r"^Password \(again\)")).fill("Tall-Orange-Kite-2026")
    page.get_by_role("button", name="Sign up and get my QR code").click()

    guide = Guide.objects.get(phone="13912345678")
    assert (guide.name, guide.user.email) == ("Wang Fang", "wang.fang@example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text("Wang Fang")
    expect(page.get_by_role("heading", name="My QR code")).to_be_visible()
    qr_image = page.get_by_role("img", name=f"QR code of guide {guide.code}")
    expect(qr_image).to_be_visible()
    # The PNG really loads (a broken image is visible too, with no pixels): decode() waits for it
    # and fails on a broken one.
    assert qr_image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    expect(page.get_by_text(guide.code, exact=True)).to_be_visible()
    expect(page.get_by_text(f"/g/{guide.code}/")).to_be_visible()
    screen.check("2-qr-code")


def test_a_partner_opens_their_home_on_a_phone_and_sees_their_money(open_screen, transactional_db):
    world = World()
    partner = PartnerFactory(code="P", name="Partner P")
    Store.objects.filter(pk=world.a.pk).update(partner=partner)
    world.a.refresh_from_db()
    guide = GuideFactory(code="GUIDEGGG", name="Gina", store=world.a)
    other = GuideFactory(code="GUIDEHHH", name="Hank", store=world.b)  # not the partner's store
    now = timezone.now() - timedelta(seconds=5)
    # This month: 80 accrued, 15 of it refunded.
    accrual = pages.accrue(pages.order(world, guide, total="800.00", paid_at=now), "80.00", at=now)
    pages.clawback(accrual, "15.00", at=now)
    # Earlier months: accruals whose return windows closed (released, so payable) and one still held.
    months = last_months()
    for back, amount, released in ((1, "42.50", False), (3, "120.00", True), (7, "66.60", True)):
        at = shanghai_midnight(months[-1 - back]) + timedelta(days=4, hours=11)
        earlier = pages.accrue(pages.order(world, guide, total="1000.00", paid_at=at), amount, at=at)
        if released:
            pages.release(earlier, at=at + timedelta(days=15))
    pages.accrue(pages.order(world, other, total="5000.00", paid_at=now), "500.00", at=now)
    user = partner_user(partner, email="partner.p@example.com")

    # The expected figures, summed from the partner's ledger rows here, not by the page's query.
    rows = CommissionEntry.objects.filter(partner=partner)
    sums = rows.aggregate(held=Sum("held_change"), payable=Sum("payable_change"))
    assert (sums["held"], sums["payable"]) == (Decimal("107.50"), Decimal("186.60"))
    by_month = {f"{month:%Y-%m}": Decimal("0.00") for month in months}
    for row in rows:
        month = f"{shanghai_date(row.created_at):%Y-%m}"
        if month in by_month:
            by_month[month] += row.held_change + row.payable_change

    screen = open_screen(PHONE)
    page = screen.page
    screen.login(user.email)
    screen.goto("/portal/guides/")
    home = page.locator("#partner-home")
    expect(home.get_by_role("heading", name="Partner P")).to_be_visible()
    expect(home.locator('[data-figure="partner-payable"]')).to_have_text(f"¥{sums['payable']:.2f}")
    expect(home.locator('[data-figure="partner-held"]')).to_have_text(f"¥{sums['held']:.2f}")
    expect(home.locator('[data-figure="partner-paid"]')).to_have_text("¥0.00")
    figures = home.locator("#partner-months-P tbody tr")
    expect(figures).to_have_count(12)
    shown = dict(
        zip(
            figures.evaluate_all("rows => rows.map(row => row.dataset.month)"),
            figures.locator("[data-amount]").evaluate_all("cells => cells.map(cell => cell.dataset.amount)"),
            strict=True,
        )
    )
    assert shown == {month: f"{total:.2f}" for month, total in by_month.items()}
    assert shown[f"{months[-1]:%Y-%m}"] == "65.00"  # 80 less the 15 refunded; Hank's 500 is not here
    chart = home.locator("svg[role=img]")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50
    expect(page.get_by_text("500.00")).to_have_count(0)
    screen.check("1-partner-home")
