from config.errors import Conflict, DomainError


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class StockRefused(DomainError):
    code = "stock_refused"
