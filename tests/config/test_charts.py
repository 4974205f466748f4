"""Server-side SVG charts: accessible, escaped, linked, scaled from 0, and calm on empty input."""

import re
from decimal import Decimal
from xml.etree import ElementTree

from django.utils.safestring import SafeString

from config.charts import bar_chart, format_value, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    """The chart must be well-formed XML (an unescaped '<' or '&' would make this raise)."""
    return ElementTree.fromstring(markup)


def bar_widths(markup: str) -> list[Decimal]:
    return [Decimal(rect.get("width")) for rect in parse(markup).iter(f"{SVG}rect")]


def test_bar_chart_is_an_accessible_svg_with_one_bar_per_item():
    markup = bar_chart([("Own mall", Decimal("120.50")), ("Stores", Decimal("80.00"))], label="By channel")

    assert isinstance(markup, SafeString)
    root = parse(markup)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "By channel"
    assert root.find(f"{SVG}title").text == "By channel"
    assert len(bar_widths(markup)) == 2
    assert "120.50" in markup and "Own mall" in markup


def test_bar_lengths_are_proportional_and_start_at_zero():
    markup = bar_chart([("a", 100), ("b", 50), ("c", 0)], width=500)

    rects = list(parse(markup).iter(f"{SVG}rect"))
    widths = [Decimal(r.get("width")) for r in rects]
    assert widths[0] == 2 * widths[1]
    assert widths[2] == 0
    # Every bar starts at the same x: the zero line.
    assert len({r.get("x") for r in rects}) == 1


def test_bars_and_points_link_when_an_href_is_given():
    bars = bar_chart([("Stores", 3, "/portal/orders/?channel=store&x=1"), ("Mall", 2)])
    line = line_chart([("11-01", 1, "/hq/dashboard/orders/?day=2026-11-01"), ("11-02", 2)])

    bar_links = [a.get("href") for a in parse(bars).iter(f"{SVG}a")]
    line_links = [a.get("href") for a in parse(line).iter(f"{SVG}a")]
    assert bar_links == ["/portal/orders/?channel=store&x=1"]
    assert line_links == ["/hq/dashboard/orders/?day=2026-11-01"]
    assert "&amp;x=1" in bars  # the ampersand is escaped in the markup


def test_labels_and_hrefs_are_escaped():
    evil = '<script>alert("x")</script>'
    markup = bar_chart([(evil, 1, '"><script>')], label=evil) + line_chart([(evil, 1)], label=evil)

    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup


def test_empty_input_renders_an_empty_state_not_an_error():
    for markup in (bar_chart([], label="By tier"), line_chart([], label="Daily sales")):
        root = parse(markup)
        assert root.get("role") == "img"
        assert "No data for this period." in markup
        assert not list(root.iter(f"{SVG}rect"))


def test_line_chart_draws_a_point_per_day_with_its_figure():
    points = [("11-01", Decimal("10.00")), ("11-02", Decimal("0.00")), ("11-03", Decimal("30.00"))]
    markup = line_chart(points, label="Daily sales")

    root = parse(markup)
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 3
    assert [c.find(f"{SVG}title").text for c in circles] == ["11-01: 10.00", "11-02: 0.00", "11-03: 30.00"]
    ys = [Decimal(c.get("cy")) for c in circles]
    # Scale from 0: the zero day sits on the baseline, the highest is at the top, 10 is a third up.
    assert ys[1] > ys[0] > ys[2]
    assert (ys[1] - ys[0]) * 3 == ys[1] - ys[2]
    assert root.find(f"{SVG}polyline") is not None


def test_a_single_point_or_all_zero_values_do_not_divide_by_zero():
    assert len(list(parse(line_chart([("11-01", 5)])).iter(f"{SVG}circle"))) == 1
    assert bar_widths(bar_chart([("a", 0), ("b", 0)])) == [0, 0]


def test_negative_values_extend_the_scale_below_zero():
    markup = bar_chart([("sales", 100), ("refunds", -50)], width=560)

    rects = list(parse(markup).iter(f"{SVG}rect"))
    assert Decimal(rects[0].get("width")) == 2 * Decimal(rects[1].get("width"))
    # The negative bar ends where the positive one starts (the zero line).
    assert Decimal(rects[1].get("x")) + Decimal(rects[1].get("width")) == Decimal(rects[0].get("x"))


def test_bar_chart_height_grows_with_items_unless_given():
    short = parse(bar_chart([("a", 1)]))
    tall = parse(bar_chart([(str(i), i) for i in range(10)]))
    fixed = parse(bar_chart([(str(i), i) for i in range(10)], height=120))

    assert int(tall.get("height")) > int(short.get("height"))
    assert fixed.get("height") == "120"
    assert all(Decimal(r.get("y")) + Decimal(r.get("height")) <= 120 for r in fixed.iter(f"{SVG}rect"))


def test_many_days_get_few_axis_labels_but_every_point():
    markup = line_chart([(f"d{i}", i) for i in range(30)])

    root = parse(markup)
    assert len(list(root.iter(f"{SVG}circle"))) == 30
    axis_labels = [t.text for t in root.iter(f"{SVG}text") if t.text and re.fullmatch(r"d\d+", t.text)]
    assert 2 <= len(axis_labels) <= 8


def test_format_value_keeps_cents_for_money_and_none_for_counts():
    assert format_value(Decimal("1234.5")) == "1,234.50"
    assert format_value(1234) == "1,234"
