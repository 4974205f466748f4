"""HQ opens the dashboard on a tablet: the figures and at least one chart, drawn server-side."""

import re

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from tests.browser.conftest import TABLETS
from tests.factories import hq_user
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


def dashboard_url() -> str:
    try:
        return reverse("dashboard:home")
    except NoReverseMatch:
        pytest.skip("the HQ dashboard has not landed: no `dashboard:home` view at /hq/dashboard/")


@TABLETS
def test_hq_opens_the_dashboard_and_sees_the_figures_and_charts(open_screen, transactional_db, viewport):
    url = dashboard_url()
    world = World()
    world.pay(world.ship_order())  # 2999.00 on the mall, shipped from store A
    world.pay(world.ship_order(sku=world.phone))  # 1999.00
    hq_user(email="hq@example.com")
    screen = open_screen(viewport)
    page = screen.page
    screen.login("hq@example.com")

    screen.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("HQ dashboard")
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name="Daily sales")).to_be_visible()
    # The charts are inline SVG with role="img" and a label, drawn by the server (no script, no CDN).
    chart = main.locator("svg[role=img]").first
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(r"\S"))
    summary = main.locator("section", has=page.get_by_role("heading", name="Sales", exact=True))
    expect(summary).to_contain_text("Orders paid")
    expect(summary.get_by_role("definition").first).to_have_text("2")
    screen.check("1-dashboard")
