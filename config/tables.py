"""The one list component of the portal and HQ pages, on django-tables2.

A page's list is a `ListTable` in its app's tables.py (the columns, which of them sort, what its
CSV holds); the view builds it from its rows and the request. What every list does is here:

- sorting: `?sort=<column>` or `?sort=-<column>`, over the columns that allow it (anything else is
  ignored, so a hostile value changes nothing). Until one is chosen the view's own order stands.
  A sortable column sorts by its `order_by`, which ends with a unique key so pages never overlap;
- paging: `?page=` (another name where a page has two lists), 50 rows; a bad or too-high number
  gives the nearest page, as config.views.paginate does. `table.page_obj` is that page's records,
  which the templates and tests read as before;
- CSV: a table with an `export_name` answers `?format=csv` with every row, not only the page,
  streamed through config.csv (byte-order mark, formula-neutral cells). The header is the columns'
  names and the cells their raw values (codes, ISO times; a table's `csv_<column>` method where the
  raw value is not what a spreadsheet wants); columns marked `exclude_from_export` stay out;
- markup: templates/includes/list_table.html. Each cell carries its column's label (`data-label`),
  which static/css/portal.css shows on narrow screens, where every row is a card; on wider ones
  static/js/lists.js says so when a table is wider than its box.
"""

from datetime import date, datetime

import django_tables2 as tables
from django.core.paginator import Page, Paginator
from django.db import models
from django.template.defaultfilters import date as date_format
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django_tables2.utils import Accessor, OrderBy

from config.badges import status_badge
from config.csv import csv_stream
from config.views import PAGE_SIZE

SORT_FIELD = "sort"
EXPORT_FIELD, EXPORT_CSV = "format", "csv"
CSV_CHUNK = 2000


def when(value, fmt: str = "Y-m-d H:i") -> str:
    """A time as the pages show it: in the active time zone (Asia/Shanghai), `fmt` as the date filter."""
    if value is None:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, fmt)


def stacked(first, second=None, *, href: str | None = None, strong: bool = True) -> SafeString:
    """A cell of two lines: the row's name (a link with `href`), and a muted line under it."""
    main = format_html("<strong>{}</strong>", first) if strong else format_html("{}", first)
    if href:
        main = format_html('<a href="{}">{}</a>', href, main)
    if second in (None, ""):
        return main
    return format_html('{}<br><span class="muted">{}</span>', main, second)


def _cell_class(name: str) -> dict:
    return {"cell": {"class": name}}


class NumberColumn(tables.Column):
    """A count or a quantity: right-aligned in a table."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", _cell_class("num"))
        super().__init__(*args, **kwargs)


class MoneyColumn(tables.Column):
    """The row's amount (a total, a price, commission): right-aligned, and the figure a card must
    show on a narrow screen (tests/browser/test_lists.py looks for `money`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", _cell_class("num money"))
        super().__init__(*args, **kwargs)


class StatusColumn(tables.Column):
    """The row's status as the one badge (config.badges); its CSV cell is the status code."""

    def __init__(self, verbose_name=None, *, field: str = "status", **kwargs):
        verbose_name = verbose_name or _("Status")
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("accessor", field)
        super().__init__(verbose_name, **kwargs)
        self.field = field

    def render(self, record):
        return status_badge(record, self.field)


class ActionsColumn(tables.Column):
    """The row's buttons: a heading only screen readers read, no label on the card, no CSV."""

    label_hidden = True

    def __init__(self, verbose_name=None, **kwargs):
        verbose_name = verbose_name or _("Actions")
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("exclude_from_export", True)
        super().__init__(verbose_name, **kwargs)


class ListTable(tables.Table):
    """A page's list: give it the rows (a queryset in the view's order, or a list) and the request.

    per_page=None shows every row (a list the view has already capped). page_field names the page
    parameter where a page has two lists. export_name (else the class's) names the CSV download;
    empty, the list has none. A subclass's Meta holds only its own options (its table id, row
    attributes, column sequence): django-tables2 does not inherit Meta, so the options every list
    shares are set here."""

    export_name = ""  # "orders": `?format=csv` downloads orders-YYYYMMDD.csv
    pages_label = _("Pages")  # the name of the paging links, for screen readers

    def __init__(
        self,
        data,
        *,
        request,
        per_page: int | None = PAGE_SIZE,
        page_field: str = "page",
        export_name: str | None = None,
        **kwargs,
    ):
        if export_name is not None:
            self.export_name = export_name
        kwargs.setdefault("template_name", "includes/list_table.html")
        kwargs.setdefault("orderable", False)  # a column sorts only when it says so (and how: order_by)
        kwargs.setdefault("empty_text", "")  # each page says why its list is empty, by its filters
        attrs = dict(kwargs.pop("attrs", None) or self._meta.attrs)
        attrs["class"] = " ".join(dict.fromkeys(["data", "list", *attrs.get("class", "").split()]))
        # A second list on a page sorts by its own parameter: "changes_page" sorts by "changes_sort".
        sort_field = SORT_FIELD if page_field == "page" else f"{page_field.removesuffix('page')}{SORT_FIELD}"
        super().__init__(data, attrs=attrs, order_by_field=sort_field, page_field=page_field, **kwargs)
        self.request = request
        sort = [alias for alias in request.GET.getlist(self.prefixed_order_by_field) if self._sortable(alias)]
        if sort:
            self.order_by = sort
        self.page_obj = None
        if per_page and not self.export_requested:
            self.paginate(per_page=per_page, page=request.GET.get(self.prefixed_page_field))
            records = [row.record for row in self.page.object_list]
            self.page_obj = Page(records, self.page.number, self.paginator)

    @property
    def sortable_columns(self) -> list:
        return [column for column in self.columns if column.orderable]

    def _sortable(self, alias: str) -> bool:
        name = OrderBy(alias).bare
        return bool(name) and name in self.columns and self.columns[name].orderable

    def paginate(self, paginator_class=Paginator, per_page=None, page=1, *args, **kwargs):
        """As django-tables2's, but a bad or too-high page number gives the nearest page."""
        self.paginator = paginator_class(self.rows, per_page or self._meta.per_page, *args, **kwargs)
        self.page = self.paginator.get_page(page)
        return self

    # --- CSV ------------------------------------------------------------------------------------

    @property
    def export_requested(self) -> bool:
        return bool(self.export_name) and self.request.GET.get(EXPORT_FIELD) == EXPORT_CSV

    def export_response(self):
        """Every row (in the list's order) as a streamed CSV download."""
        columns = [column for column in self.columns.iterall() if not column.column.exclude_from_export]
        records = self.data.data
        if isinstance(records, models.QuerySet):
            records = records.iterator(chunk_size=CSV_CHUNK)

        def lines():
            yield [column.name for column in columns]
            for record in records:
                yield [self.export_cell(record, column) for column in columns]

        return csv_stream(lines(), f"{self.export_name}-{timezone.localdate():%Y%m%d}.csv")

    def export_cell(self, record, bound_column):
        """A CSV cell: the table's `csv_<column>(record)` when it has one, else the raw value."""
        method = getattr(self, f"csv_{bound_column.name}", None)
        if method is not None:
            value = method(record)
        else:
            value = Accessor(bound_column.accessor).resolve(record, quiet=True)
        if isinstance(value, datetime):
            return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, models.Model):
            return str(value)
        return value
