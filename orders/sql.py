"""Plain SQL of the order intake, where a benchmark showed the ORM's query building to cost more
than the statement (docs/benchmarks.md, "Flash sale with a coupon per order"). Table and column
names come from the models' _meta; the connection from the database router."""

from config.sql import names
from orders.models import LineDiscount, Order, OrderLine


def line_discounts_insert(discounts: list[LineDiscount], *, order_id: int) -> tuple[str, list]:
    """INSERT the order's discount rows in one statement, each naming its line by the line's SKU
    (a SKU is on one line of an order) through a join: it travels in the same round trip as the
    lines' own INSERT, whose ids are not known yet."""
    table, line, source, promotion, code, label, amount, threshold = names(
        LineDiscount, "line", "source", "promotion", "code", "label", "amount", "threshold", write=True
    )
    lines, line_id, line_order, line_sku = names(OrderLine, "id", "order", "sku", write=True)
    one = (
        "SELECT %s AS n, CAST(%s AS bigint) AS sku, CAST(%s AS varchar) AS source, "
        "CAST(%s AS bigint) AS promotion, CAST(%s AS bigint) AS code, CAST(%s AS varchar) AS label, "
        "CAST(%s AS numeric) AS amount, CAST(%s AS numeric) AS threshold"
    )
    params = []
    for n, discount in enumerate(discounts):
        params += [
            n,
            discount.line.sku_id,
            discount.source,
            discount.promotion_id,
            discount.code_id,
            discount.label,
            discount.amount,
            discount.threshold,
        ]
    # A UNION ALL of one-row SELECTs, not VALUES: SQLite names no VALUES columns.
    return (
        f"INSERT INTO {table} ({line}, {source}, {promotion}, {code}, {label}, {amount}, {threshold}) "  # noqa: S608 (model names)
        f"SELECT l.{line_id}, v.source, v.promotion, v.code, v.label, v.amount, v.threshold "
        f"FROM ({' UNION ALL '.join([one] * len(discounts))}) v "
        f"JOIN {lines} l ON l.{line_order} = %s AND l.{line_sku} = v.sku ORDER BY v.n",
        [*params, order_id],
    )


def replay_statement(
    *, idempotency_key: str | None, channel_id: int, external_reference: str | None
) -> tuple[str, list]:
    """The order a retried request made, by its Idempotency-Key or by its channel's external
    reference (either), newest first as the model orders them; every column, for config.sql.fetch.
    The order is read where it was written (inside the retry's transaction, never a replica)."""
    table, key, channel, reference, created_at, pk = names(
        Order, "idempotency_key", "channel", "external_reference", "created_at", "id", write=True
    )
    match, params = [], []
    if idempotency_key:
        match.append(f"{key} = %s")
        params.append(idempotency_key)
    if external_reference:
        match.append(f"({channel} = %s AND {reference} = %s)")
        params += [channel_id, external_reference]
    return (
        f"SELECT * FROM {table} WHERE {' OR '.join(match)} "  # noqa: S608 (model names)
        f"ORDER BY {created_at} DESC, {pk} DESC LIMIT 1",
        params,
    )
