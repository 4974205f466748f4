from config.errors import Conflict, DomainError


class GuideRefused(DomainError):
    """A guide could not be registered or changed as asked (bad input)."""

    code = "guide_refused"


class GuideExists(Conflict):
    """The user already has a guide account (one per user)."""

    code = "guide_exists"


class GuideSuspended(Conflict):
    """A suspended guide's code binds nobody."""

    code = "guide_suspended"


class ScanRefused(DomainError):
    """A scan cannot bind anyone (no guide on it, already used for another member...)."""

    code = "scan_refused"


class WindowRefused(DomainError):
    """An attribution window outside 1–365 days."""

    code = "window_refused"
