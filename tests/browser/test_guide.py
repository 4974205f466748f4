"""A newcomer signs up as a shopping guide on their phone and gets their QR code."""

import re

import pytest
from playwright.sync_api import expect

from guides.models import Guide
from tests.browser.conftest import PHONE

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
