"""One status badge for every page and list: the label of an object's status in a pill coloured by
its state.

The colour is the model's own business: its `status_tone` property (next to the app's state table)
answers "ok", "warn", "err", "info" or "" (neutral). The label is its `status_label` when it has
one (a state the status field alone does not tell, such as a code that is held but not valid now),
else the choice's label."""

from django.utils.html import format_html
from django.utils.safestring import SafeString


def status_badge(obj, field: str = "status") -> SafeString:
    """`<span class="badge ok" data-status="paid">Paid</span>` for `obj.<field>`."""
    tone = getattr(obj, f"{field}_tone", "")
    label = getattr(obj, f"{field}_label", None)
    if label is None:
        label = getattr(obj, f"get_{field}_display")()
    return format_html(
        '<span class="badge{}" data-status="{}">{}</span>',
        f" {tone}" if tone else "",
        getattr(obj, field),
        label,
    )
