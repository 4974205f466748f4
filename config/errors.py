"""The one domain exception hierarchy. The API maps it to {"code", "message", "fields"},
the portal to a message on the page."""

from django.utils.translation import gettext as _


class DomainError(Exception):
    """A business rule refused the request; says which rule and, where known, which fields."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class IllegalTransition(Conflict):
    """A state machine was asked for a move its transition table does not allow."""

    code = "illegal_transition"

    def __init__(self, *, current: str, wanted: str, what: str = "record"):
        super().__init__(
            _("Cannot move %(what)s from “%(current)s” to “%(wanted)s”.")
            % {"what": what, "current": current, "wanted": wanted},
            fields={
                "status": [
                    _("current: %(current)s, wanted: %(wanted)s") % {"current": current, "wanted": wanted}
                ]
            },
        )


class Forbidden(DomainError):
    """The actor may see the record but not do this with it (an app's policy refused)."""

    code = "permission_denied"
    status = 403
