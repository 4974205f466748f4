"""Server-side SVG charts: inline markup, no JavaScript, nothing fetched at run time.

Both charts take rows of ``(label, value)`` or ``(label, value, href)``; a row with an href becomes a
link so the figure drills down to the list behind it. Scales start at 0 (a negative value, e.g. a net
refund, extends the scale below 0 rather than being clipped). Every label is escaped. The SVG carries
``role="img"``, an ``aria-label`` and a ``<title>``; each bar or point has its own ``<title>`` with the
exact figure, so a screen reader or a hover shows the number rather than a pixel length.

Coordinates are computed in Decimal (money never becomes a float) and written with one decimal place.
"""

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

Row = tuple[str, Decimal | int] | tuple[str, Decimal | int, str | None]

INK = "#1b1f24"
INK_SOFT = "#4a5360"
LINE = "#cfd6df"
BRAND = "#0b4f9c"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
BAR_HEIGHT = 24
BAR_GAP = 8
TENTH = Decimal("0.1")


def format_value(value: Decimal | int) -> str:
    """A figure as people read it: thousands separators, cents only for Decimal amounts."""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def _coord(value: Decimal) -> str:
    return str(value.quantize(TENTH, rounding=ROUND_HALF_UP))


def _rows(items: Sequence[Row]) -> list[tuple[str, Decimal | int, str | None]]:
    rows = []
    for item in items:
        label, value, *rest = item
        rows.append((str(label), value if value is not None else 0, rest[0] if rest else None))
    return rows


def _scale(values: list[Decimal | int]) -> tuple[Decimal, Decimal]:
    """Lowest and highest value of the axis: always includes 0, never an empty range."""
    low = min([Decimal(0), *map(Decimal, values)])
    high = max([Decimal(0), *map(Decimal, values)])
    if high == low:
        high = low + 1
    return low, high


def _open_svg(width: int, height: int, label: str, css_class: str) -> str:
    label = escape(label)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" role="img" '
        f'aria-label="{label}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"{FONT}><title>{label}</title>"  # sized by portal.css: CSP refuses style attributes
    )


def _empty(width: int, height: int, label: str, css_class: str) -> SafeString:
    message = escape(_("No data for this period."))
    return mark_safe(  # noqa: S308 - every interpolated string is escaped above
        _open_svg(width, height, label, css_class + " chart-empty")
        + f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" fill="{INK_SOFT}">'
        f"{message}</text></svg>"
    )


def _linked(markup: str, href: str | None) -> str:
    if not href:
        return markup
    return f'<a href="{escape(href)}">{markup}</a>'


def _typed(amount: Decimal, rows) -> Decimal | int:
    """Show the axis maximum as an int when the data are counts."""
    if all(isinstance(value, int) for _label, value, _href in rows):
        return int(amount)
    return amount


def line_chart(points: Sequence[Row], *, width: int = 640, height: int = 200, label: str = "") -> SafeString:
    """A line over time (e.g. daily sales); x positions are evenly spaced in the order given."""
    rows = _rows(points)
    if not rows:
        return _empty(width, height, label, "chart-line")
    left, right, top, bottom = 64, 16, 16, 28
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - top - bottom)
    low, high = _scale([value for _label, value, _href in rows])
    step = plot_w / (len(rows) - 1) if len(rows) > 1 else Decimal(0)

    def x_of(index: int) -> Decimal:
        return left + (step * index if len(rows) > 1 else plot_w / 2)

    def y_of(value: Decimal | int) -> Decimal:
        return top + plot_h - (Decimal(value) - low) / (high - low) * plot_h

    zero_y, base_y = _coord(y_of(0)), top + plot_h
    parts = [
        _open_svg(width, height, label, "chart-line"),
        f'<line x1="{left}" y1="{zero_y}" x2="{width - right}" y2="{zero_y}" stroke="{LINE}"/>',
        f'<text x="{left - 6}" y="{_coord(y_of(high) + 4)}" text-anchor="end" fill="{INK_SOFT}">'
        f"{escape(format_value(_typed(high, rows)))}</text>",
        f'<text x="{left - 6}" y="{_coord(y_of(0) + 4)}" text-anchor="end" fill="{INK_SOFT}">0</text>',
    ]
    coords = [(_coord(x_of(i)), _coord(y_of(value))) for i, (_l, value, _h) in enumerate(rows)]
    if len(rows) > 1:
        path = " ".join(f"{x},{y}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{BRAND}" stroke-width="2"/>')
    # At most ~7 x-axis labels so they never overlap; every point still has its own <title>.
    every = max(1, -(-len(rows) // 7))
    for index, ((row_label, value, href), (x, y)) in enumerate(zip(rows, coords, strict=True)):
        title = escape(f"{row_label}: {format_value(value)}")
        dot = f'<circle cx="{x}" cy="{y}" r="4" fill="{BRAND}"><title>{title}</title></circle>'
        parts.append(_linked(dot, href))
        if index % every == 0:
            parts.append(
                f'<text x="{x}" y="{_coord(base_y + 18)}" text-anchor="middle" fill="{INK_SOFT}">'
                f"{escape(row_label)}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - labels, titles and hrefs are escaped above


def bar_chart(
    items: Sequence[Row], *, width: int = 640, height: int | None = None, label: str = ""
) -> SafeString:
    """Horizontal bars with the label on the left and the figure at the end of each bar."""
    rows = _rows(items)
    if height is None:
        height = max(BAR_HEIGHT + 2 * BAR_GAP, len(rows) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP)
    if not rows:
        return _empty(width, height, label, "chart-bar")
    label_w, value_w = 150, 110
    plot_w = Decimal(width - label_w - value_w)
    low, high = _scale([value for _label, value, _href in rows])
    bar_h = min(Decimal(BAR_HEIGHT), (Decimal(height) - BAR_GAP) / len(rows) - BAR_GAP)

    def x_of(value: Decimal | int) -> Decimal:
        return label_w + (Decimal(value) - low) / (high - low) * plot_w

    zero_x = x_of(0)
    parts = [_open_svg(width, height, label, "chart-bar")]
    for index, (row_label, value, href) in enumerate(rows):
        y = BAR_GAP + index * (bar_h + BAR_GAP)
        end = x_of(value)
        bar_x, bar_w = min(zero_x, end), abs(end - zero_x)
        text_y = _coord(y + bar_h / 2 + 4)
        shown = escape(row_label if len(row_label) <= 22 else row_label[:21] + "…")
        title = escape(f"{row_label}: {format_value(value)}")
        bar = (
            f'<g class="chart-bar-row"><title>{title}</title>'
            f'<text x="{label_w - 8}" y="{text_y}" text-anchor="end" fill="{INK}">{shown}</text>'
            f'<rect x="{_coord(bar_x)}" y="{_coord(y)}" width="{_coord(bar_w)}" height="{_coord(bar_h)}" '
            f'fill="{BRAND}"/>'
            f'<text x="{_coord(max(zero_x, end) + 6)}" y="{text_y}" fill="{INK}">'
            f"{escape(format_value(value))}</text></g>"
        )
        parts.append(_linked(bar, href))
    parts.append(
        f'<line x1="{_coord(zero_x)}" y1="0" x2="{_coord(zero_x)}" y2="{height}" stroke="{LINE}"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - labels, titles and hrefs are escaped above
