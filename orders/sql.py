"""Plain SQL of the order intake, where a benchmark showed the ORM's query building to cost more
than the statement (docs/benchmarks.md, "Flash sale with a coupon per order"). Table and column
names come from the models' _meta; the connection from the database router."""

from config.sql import names
from orders.models import LineDiscount, OrderLine


def line_discount_insert(discount: LineDiscount, *, order_id: int, sku_id: int) -> tuple[str, list]:
    """INSERT one discount row for the line of `sku_id` on the order (a SKU is on one line of an
    order), naming the line by a sub-select: it travels in the same round trip as the lines'
    own INSERT, whose ids are not known yet."""
    table, line, source, promotion, code, label, amount, threshold = names(
        LineDiscount, "line", "source", "promotion", "code", "label", "amount", "threshold", write=True
    )
    lines, line_id, line_order, line_sku = names(OrderLine, "id", "order", "sku", write=True)
    return (
        f"INSERT INTO {table} ({line}, {source}, {promotion}, {code}, {label}, {amount}, {threshold}) "  # noqa: S608 (model names)
        f"SELECT {line_id}, %s, %s, %s, %s, %s, %s FROM {lines} WHERE {line_order} = %s AND {line_sku} = %s",
        [
            discount.source,
            discount.promotion_id,
            discount.code_id,
            discount.label,
            discount.amount,
            discount.threshold,
            order_id,
            sku_id,
        ],
    )
