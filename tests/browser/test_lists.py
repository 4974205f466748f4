"""Every list page on a tablet, both ways up (768 and 1024 wide), and on a phone, as the user who
sees it: no table is wider than its box unless the page says it scrolls sideways
(static/js/lists.js), no cell of a list is hidden, and each row's amount (its `money` cell: a total,
a price, commission) is on the screen, in the table or on the row's card (below 900px,
static/css/portal.css). A list also sorts, and the wide price report keeps its SKUs in view.

The rows come from the query-count test's Scene (tests/perf/test_query_counts.py): the same world
every list route is measured with, two rows of each kind, seven channels with prices that disagree."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, TABLET_LANDSCAPE, TABLET_PORTRAIT
from tests.perf.test_query_counts import Scene

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 2

# (the Scene's user who looks, the page, whether its rows carry an amount)
PAGES = [
    ("hq", "/portal/orders/", True),
    ("hq", "/portal/orders/queue/", False),
    ("hq", "/portal/stores/", False),
    ("hq", "/portal/stores/A/", False),
    ("hq", "/portal/stores/A/stock/TV-55/", False),
    ("hq", "/portal/members/", False),
    ("hq", "/portal/members/segments/", False),
    ("hq", "/portal/members/groups/", False),
    ("hq", "segment", True),
    ("hq", "group", False),
    ("hq", "/portal/guides/fans/", False),
    ("hq", "/portal/guides/orders/", True),
    ("hq", "/portal/guides/ledger/", True),
    ("hq", "/portal/guides/statements/", True),
    ("hq", "statement", True),
    ("partner_user", "/portal/guides/partner/", True),
    ("clerk", "/portal/service/", False),
    ("clerk", "/portal/service/store/A/", False),
    ("hq", "/hq/catalog/skus/", False),
    ("hq", "/hq/catalog/consistency/", True),
    ("hq", "/hq/catalog/skus/TV-55/prices/", True),
    ("hq", "/hq/guides/list/", False),
    ("hq", "/hq/guides/statements/", True),
    ("hq", "hq-statement", True),
    ("hq", "/hq/service/", False),
    ("hq", "/hq/marketing/", False),
    ("hq", "/hq/marketing/coupons/", True),
    ("hq", "/hq/marketing/campaigns/", False),
    ("hq", "/hq/dashboard/orders/", True),
    ("hq", "/hq/dashboard/offers/", False),
]

# In the page: for each table shown, whether it is wider than its box and says so, its list cells
# that are not displayed, and its amount cells that are off the screen (or out of their box).
MEASURE = """() => {
  const report = [];
  for (const table of document.querySelectorAll("main table")) {
    if (!table.getClientRects().length) continue;  // inside a closed <details>
    const box = table.parentElement;
    const wider = box.scrollWidth > box.clientWidth + 1
      || table.getBoundingClientRect().width > box.clientWidth + 1;
    const cue = box.previousElementSibling;
    const cued = box.classList.contains("is-scrollable") && !!cue && cue.classList.contains("scroll-cue")
      && !cue.hidden && cue.getClientRects().length > 0;
    const edge = box.getBoundingClientRect();
    const hiddenCells = table.classList.contains("list")
      ? [...table.querySelectorAll("tbody td")].filter(td => !td.getClientRects().length).length : 0;
    const money = [...table.querySelectorAll("tbody td.money")];
    const offScreen = money.filter(td => {
      const r = td.getBoundingClientRect();
      return !(r.width > 0 && r.height > 0 && r.left >= edge.left - 1 && r.right <= edge.right + 1
               && r.right <= window.innerWidth + 1);
    }).map(td => td.textContent.trim());
    report.push({
      id: table.id || table.className, list: table.classList.contains("list"), wider, cued, hiddenCells,
      money: money.length, offScreen,
    });
  }
  return report;
}"""


@pytest.fixture
def scene(transactional_db):
    scene = Scene()
    scene.grow_channels(5)  # seven active channels: the mall, own stores and these five
    for grow in (
        "orders",
        "stores",
        "stock",
        "skus",
        "members",
        "segment_members",
        "segments",
        "groups",
        "group_members",
        "guides",
        "bindings",
        "attributed_orders",
        "entries",
        "statements",
        "statement_rows",
        "partner_rows",
        "tickets",
        "promotions",
        "coupon_definitions",
        "campaigns",
        "prices",
    ):
        getattr(scene, f"grow_{grow}")(ROWS)
    scene.grow_movements(ROWS)
    return scene


def _url(scene: Scene, page: str) -> str:
    return {
        "segment": lambda: reverse("members:segment_detail", args=[scene.segment.pk]),
        "group": lambda: reverse("members:group_detail", args=[scene.group.pk]),
        "statement": lambda: reverse("guides:statement", args=[scene.statement.pk]),
        "hq-statement": lambda: reverse("guides_hq:statement", args=[scene.statement.pk]),
    }.get(page, lambda: page)()


@pytest.mark.parametrize(
    "viewport",
    [TABLET_PORTRAIT, TABLET_LANDSCAPE, PHONE],
    ids=["tablet-768x1024", "tablet-1024x768", "phone-390x844"],
)
def test_every_list_fits_its_box_or_says_it_scrolls_and_shows_each_rows_amount(open_screen, scene, viewport):
    screen = open_screen(viewport)
    page = screen.page
    wide = viewport["width"] > 900
    failures = []
    current = None
    for who, path, has_money in PAGES:
        if who != current:
            if current is not None:
                screen.logout()
            screen.login(getattr(scene, who).email)
            current = who
        url = _url(scene, path)
        screen.goto(url)
        expect(page.get_by_role("main")).to_be_visible()
        page.wait_for_load_state("load")
        page.wait_for_timeout(50)  # lists.js's first check runs once the page is laid out
        screen.check(_slug(url))
        tables = page.evaluate(MEASURE)
        lists = [table for table in tables if table["list"]]
        assert lists, f"{url}: no list on the page"
        for table in tables:
            where = f"{url} at {viewport['width']}px, table {table['id']!r}"
            if table["wider"] and not table["cued"]:
                failures.append(f"{where}: wider than its box and nothing says it scrolls sideways")
            if table["hiddenCells"]:
                failures.append(f"{where}: {table['hiddenCells']} cells of the list are not shown")
            if table["offScreen"]:
                failures.append(f"{where}: amounts off the screen: {table['offScreen']}")
        if has_money:
            assert any(t["money"] for t in lists), f"{url}: no amount column in its list"
        if not wide:  # a card per row: the amount's label is on the card
            for label in page.evaluate(
                "() => [...document.querySelectorAll('main table.list tbody td.money')]"
                ".map(td => getComputedStyle(td, '::before').content)"
            ):
                assert label not in ("none", "normal", '""'), f"{url}: an amount on a card without its label"
    assert failures == []


def _slug(url: str) -> str:
    return url.strip("/").replace("/", "-") or "home"


def test_a_wide_list_says_it_scrolls_and_keeps_the_row_name_in_view(open_screen, scene):
    """The consistency report with seven channels at 1024 is wider than the screen: the line above
    says so, the box is marked, and the SKU column stays in view while the table scrolls."""
    scene.grow_channels(6)  # thirteen channels: wider than any tablet
    screen = open_screen({"width": 1024, "height": 768})
    page = screen.page
    screen.login(scene.hq.email)
    screen.goto(reverse("catalog:consistency"))
    cue = page.locator("p.scroll-cue")
    expect(cue).to_be_visible()
    expect(cue).to_have_text("Wider than the screen: scroll sideways to see every column.")
    box = page.locator(".table-wrap.is-scrollable")
    expect(box).to_have_count(1)
    first = page.locator("table.list tbody tr").first.locator("td").first
    before = first.bounding_box()
    box.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    page.wait_for_timeout(50)
    after = first.bounding_box()
    assert abs(after["x"] - before["x"]) < 2, "the SKU column scrolled away with the prices"
    screen.check("scrolled")


def test_a_list_sorts_by_a_column(open_screen, scene):
    """The orders by total, up and down: the heading says which way (aria-sort)."""
    screen = open_screen({"width": 1024, "height": 768})
    page = screen.page
    screen.login(scene.hq.email)
    screen.goto(reverse("orders:list"))
    page.get_by_role("link", name="Total").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Total")
    totals = [float(t) for t in page.locator("table.list tbody td.money").all_inner_texts()]
    assert totals == sorted(totals)
    page.get_by_role("link", name="Total").click()
    expect(page.locator("th[aria-sort=descending]")).to_have_text("Total")
    totals = [float(t) for t in page.locator("table.list tbody td.money").all_inner_texts()]
    assert totals == sorted(totals, reverse=True)
