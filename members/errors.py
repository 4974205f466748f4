from config.errors import Conflict, DomainError


class InvalidPhone(DomainError):
    code = "invalid_phone"


class IdentityConflict(Conflict):
    code = "identity_conflict"


class MergeRefused(DomainError):
    code = "merge_refused"


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class PointsRefused(DomainError):
    code = "points_refused"


class GroupRefused(DomainError):
    code = "group_refused"
    status = 403
