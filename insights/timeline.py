"""What the order's and the member's 360° timelines are made of: entries of the five flows (order,
information, logistics, service, capital) in time order, and the page's chips that pick a flow.
The timelines themselves are insights.order_timeline and insights.member_timeline."""

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy

FLOWS = [
    ("order", gettext_lazy("Order flow")),
    ("information", gettext_lazy("Information")),
    ("logistics", gettext_lazy("Logistics")),
    ("service", gettext_lazy("Service")),
    ("capital", gettext_lazy("Capital")),
]
FLOW_CODES = [code for code, _label in FLOWS]
FLOW_LABELS = dict(FLOWS)


@dataclass
class TimelineEntry:
    """One thing that happened: when (aware), in which flow, what, who did it, and a link if any."""

    at: datetime
    flow: str
    what: str
    who: str = ""
    detail: str = ""
    url: str = ""
    kind: str = ""  # the source row's kind ("status", "payment", ...), for tests and styling

    @property
    def flow_label(self) -> str:
        return str(FLOW_LABELS.get(self.flow, self.flow))


class Timeline(list):
    """A list of entries in time order, and the sources that were capped (label, url) for "see all"."""

    def __init__(self, entries=(), more=None):
        super().__init__(entries)
        self.more = more or []

    def of_flow(self, flow: str | None) -> "Timeline":
        if not flow:
            return self
        return Timeline([entry for entry in self if entry.flow == flow], self.more)


def in_time_order(entries: list[TimelineEntry], more=None) -> Timeline:
    """Oldest first; rows made at the same instant keep the order they were added in."""
    indexed = sorted(enumerate(entries), key=lambda pair: (pair[1].at, pair[0]))
    return Timeline([entry for _index, entry in indexed], more)


def who(user) -> str:
    if user is None:
        return ""
    return getattr(user, "email", "") or str(user)


def flow_from(request) -> str | None:
    """The flow chosen by the page's chips (?flow=...), or None for all five."""
    flow = request.GET.get("flow")
    return flow if flow in FLOW_CODES else None


def flow_links(request, current: str | None, anchor: str = "timeline-h") -> list[dict]:
    """The "All" and per-flow chips as plain links (they work without JavaScript); other query
    parameters (the member page's ?via=lookup&q=...) are kept."""
    links = []
    for code, label in [("", gettext_lazy("All")), *FLOWS]:
        params = request.GET.copy()
        params.pop("page", None)
        if code:
            params["flow"] = code
        else:
            params.pop("flow", None)
        query = params.urlencode()
        links.append(
            {
                "code": code,
                "label": label,
                "url": f"{request.path}{'?' + query if query else ''}#{anchor}",
                "current": (code or None) == current,
            }
        )
    return links
