from config.errors import DomainError, NotFound


class PriceRefused(DomainError):
    """A price that a pricing rule does not allow."""

    code = "price_refused"


class UnifiedPriceRefused(PriceRefused):
    code = "unified_sku_channel_price"


class PriceOverlap(PriceRefused):
    code = "price_window_overlap"


class BelowMarginFloor(PriceRefused):
    code = "below_dealer_margin_floor"


class NoPrice(NotFound):
    code = "no_price"
