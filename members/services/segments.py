"""Members: segments (their filters checked, then saved), for the API and the admin."""

from django.db import transaction
from django.utils.translation import gettext as _

from integrations.authentication import actor as person_of

_CONSENT_VALUES = (True, False, 1, 0, "true", "false", "1", "0")


def segment_filters_check(filters) -> None:
    """Refuse a segment filter that cannot be evaluated, naming every bad filter at once.

    Each filter is evaluated on its own (`segment_members({key: value}).exists()`), so a bad value
    the selector only notices in the database (a store id that is not a number) is caught too.
    """
    from django.core.exceptions import ValidationError
    from django.db import DatabaseError

    from members.selectors import SegmentInvalid, segment_members

    if not isinstance(filters, dict):
        raise SegmentInvalid(
            _("A segment's filters are an object of filter name -> value."),
            fields={"filters": [_("Not an object.")]},
        )
    problems: list[str] = []
    for key, value in filters.items():
        try:
            if key == "consent" and value not in (None, "") and value not in _CONSENT_VALUES:
                raise SegmentInvalid(
                    _("consent must be true or false."), fields={key: [_("Not true/false.")]}
                )
            with transaction.atomic():  # a database refusal must not break the caller's transaction
                segment_members({key: value}).exists()
        except SegmentInvalid as exc:
            problems.extend(f"{name}: {message}" for name, msgs in exc.fields.items() for message in msgs)
        except (ValueError, TypeError, ArithmeticError, ValidationError, DatabaseError):
            problems.append(f"{key}: {_('Not a valid value for this filter.')}")
    if problems:
        raise SegmentInvalid(
            _("The segment's filters are not valid: %(problems)s") % {"problems": "; ".join(problems)},
            fields={"filters": problems},
        )


@transaction.atomic
def segment_create(*, name: str, filters: dict, actor):
    """Save a dynamic segment after checking that its filters evaluate."""
    user = person_of(actor)
    from members.models import Segment

    segment_filters_check(filters)
    segment = Segment(name=(name or "").strip(), filters=filters, created_by=user)
    segment.full_clean()
    segment.save()
    return segment
