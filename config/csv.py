"""CSV exports' shared pieces: a formula-neutralising cell and a downloadable CSV response.

A text cell that starts like a spreadsheet formula (a self-chosen guide or member name, a refund
note) must not run in the spreadsheet HQ, the campaign or the payout team opens: ``csv_cell``
gives it a leading apostrophe. ``csv_attachment`` is the response every CSV download writes into.
"""

import csv

from django.http import HttpResponse, StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """The value as a CSV cell: None is empty, text that starts like a formula gets an apostrophe."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return "" if value is None else value


def csv_attachment(filename: str, *, bom: bool = True) -> HttpResponse:
    """An empty text/csv download named ``filename``, for a ``csv.writer`` to write into.

    With ``bom`` it starts with a byte-order mark, so that spreadsheet programs read the Chinese
    names as UTF-8; API clients get the bare file (``bom=False``).
    """
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if bom:
        response.write("\ufeff")
    return response


class _Echo:
    """A file-like object whose write() hands the line back, for a streamed CSV."""

    def write(self, value):
        return value


def csv_stream(rows, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of `rows` (an iterable of sequences, header first), each cell
    through ``csv_cell``, for exports too long to build in memory."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        ("\ufeff" if i == 0 else "") + writer.writerow([csv_cell(value) for value in row])
        for i, row in enumerate(rows)
    )
    response["Content-Type"] = "text/csv; charset=utf-8"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
