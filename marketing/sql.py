"""The conditional UPDATEs that keep coupons and wallets honest under concurrency (the same
discipline as stock): each either moves its row or answers no row, and the caller refuses.

They are queued on a Batch (config.sql) that the order sends right after its stock UPDATEs, in
their round trip, so they hold the hot coupon row only from there until COMMIT. Table and column
names come from the models' _meta, so a rename fails here at import, not in production."""

from decimal import Decimal

from django.conf import settings
from django.db import connections, router

from catalog.models import SKU, Category, Product
from config.sql import columns_of, from_db_value, from_row, names
from marketing.choices import CodeStatus
from marketing.models import Coupon, CouponCode, Wallet

# Sums are rounded to the cent: a no-op on PostgreSQL (numeric), and on SQLite, whose decimals are
# floats, 0.10 + 0.20 is 0.30 again, so a budget or a balance is never missed by a hair.
PLACES = int(settings.MONEY_DECIMAL_PLACES)


def coupon_take(coupon_id: int, discount: Decimal, *, only_if: str = "") -> tuple[str, list]:
    """Count one redemption of `discount` against the coupon's budgets, or answer no row.
    `only_if`: one more condition (SQL without parameters, e.g. on a WITH's rows)."""
    table, count, amount, budget_count, budget_amount, pk = names(
        Coupon, "redeemed_count", "redeemed_amount", "budget_count", "budget_amount", "id", write=True
    )
    also = f"{only_if} AND " if only_if else ""
    return (
        f"UPDATE {table} SET {count} = {count} + 1, {amount} = ROUND({amount} + %s, {PLACES}) "  # noqa: S608
        f"WHERE {pk} = %s AND {also}({budget_count} IS NULL OR {count} < {budget_count}) "
        f"AND ({budget_amount} IS NULL OR ROUND({amount} + %s, {PLACES}) <= {budget_amount}) RETURNING {pk}",
        [discount, coupon_id, discount],
    )


def code_and_coupon_take(
    code_id: int, member_id: int, order_number: str, at, coupon_id: int, discount: Decimal
) -> tuple[str, list] | None:
    """code_take and coupon_take as one statement (PostgreSQL's data-modifying WITH; None
    elsewhere): the coupon is counted only if the code was taken. It answers one row, (codes
    taken, coupons counted): (0, 0) when the code was used meanwhile, (1, 0) when the budget is
    spent; the caller refuses either, and the transaction undoes the code's UPDATE."""
    if connections[router.db_for_write(Coupon)].vendor != "postgresql":
        return None
    take, take_params = code_take(code_id, member_id, order_number, at)
    count, count_params = coupon_take(coupon_id, discount, only_if="EXISTS (SELECT 1 FROM taken)")
    return (
        f"WITH taken AS ({take}), counted AS ({count}) "  # noqa: S608 (model names)
        "SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM counted)",
        [*take_params, *count_params],
    )


def coupon_give_back(coupon_id: int, discount: Decimal) -> tuple[str, list]:
    table, count, amount, pk = names(Coupon, "redeemed_count", "redeemed_amount", "id", write=True)
    return (
        f"UPDATE {table} SET {count} = {count} - 1, {amount} = ROUND({amount} - %s, {PLACES}) "  # noqa: S608
        f"WHERE {pk} = %s AND {count} >= 1 RETURNING {pk}",
        [discount, coupon_id],
    )


def code_take(code_id: int, member_id: int, order_number: str, at) -> tuple[str, list]:
    """Mark a held code redeemed by the order, or answer no row (used meanwhile)."""
    table, status, redeemed_at, number, member, pk = names(
        CouponCode, "status", "redeemed_at", "order_number", "member", "id", write=True
    )
    return (
        f"UPDATE {table} SET {status} = %s, {redeemed_at} = %s, {number} = %s "  # noqa: S608 (model names)
        f"WHERE {pk} = %s AND {member} = %s AND {status} = %s RETURNING {pk}",
        [CodeStatus.REDEEMED, at, order_number, code_id, member_id, CodeStatus.HELD],
    )


def wallet_move(member_id: int, delta: Decimal, at) -> tuple[str, list]:
    """Move a wallet's balance by `delta`; a debit only if the balance covers it."""
    table, balance, member, updated_at, pk = names(
        Wallet, "balance", "member", "updated_at", "id", write=True
    )
    return (
        f"UPDATE {table} SET {balance} = ROUND({balance} + %s, {PLACES}), {updated_at} = %s "  # noqa: S608
        f"WHERE {member} = %s AND ROUND({balance} + %s, {PLACES}) >= 0 RETURNING {pk}",
        [delta, at, member_id, delta],
    )


def codes_with_coupons(codes: list[str]) -> list[CouponCode]:
    """The codes named (each with its coupon's row attached) in one statement: every coupon order
    reads this, and the ORM's select_related cost more to build than the database to answer
    (docs/benchmarks.md, "Flash sale with a coupon per order")."""
    statement, params = codes_statement(codes)
    with connections[router.db_for_read(CouponCode)].cursor() as cursor:
        cursor.execute(statement, params)
        return codes_from_rows(cursor.fetchall())


def codes_statement(codes: list[str]) -> tuple[str, list]:
    """codes_with_coupons' statement and parameters (for a caller that batches its reads)."""
    code_table, code_column, coupon_column = names(CouponCode, "code", "coupon")
    coupon_table, coupon_pk = names(Coupon, "id")
    statement = (
        f"SELECT {columns_of(CouponCode, 'c')}, {columns_of(Coupon, 'p')} "  # noqa: S608 (model names)
        f"FROM {code_table} c JOIN {coupon_table} p ON p.{coupon_pk} = c.{coupon_column} "
        f"WHERE c.{code_column} IN ({', '.join(['%s'] * len(codes))})"
    )
    return statement, list(codes)


def codes_from_rows(rows) -> list[CouponCode]:
    """codes_with_coupons' answer from its statement's rows."""
    n = len(CouponCode._meta.concrete_fields)
    found = []
    for row in rows:
        code = from_row(CouponCode, row[:n])
        code.coupon = from_row(Coupon, row[n:])
        found.append(code)
    return found


def wallet_balance(member_id: int) -> Decimal | None:
    """The member's stored value (None: no wallet yet), as every quote shows it."""
    statement, params = wallet_balance_statement(member_id)
    with connections[router.db_for_read(Wallet)].cursor() as cursor:
        cursor.execute(statement, params)
        return wallet_balance_from_rows(cursor.fetchall())


def wallet_balance_statement(member_id: int) -> tuple[str, list]:
    """wallet_balance's statement and parameters (for a caller that batches its reads)."""
    table, balance, member = names(Wallet, "balance", "member")
    return f"SELECT {balance} FROM {table} WHERE {member} = %s", [member_id]  # noqa: S608 (model names)


def wallet_balance_from_rows(rows) -> Decimal | None:
    return from_db_value(Wallet._meta.get_field("balance"), rows[0][0]) if rows else None


def category_chains(sku_ids: list[int]) -> dict[int, set[int]]:
    """Each SKU's category and its ancestors, four levels (a promotion on 'TV' covers
    'TV > UHD'), in one statement: the ORM's three joins cost a quote more than the database."""
    sku, sku_pk, sku_product = names(SKU, "id", "product")
    product, product_pk, product_category = names(Product, "id", "category")
    category, category_pk, parent = names(Category, "id", "parent")
    statement = (
        f"SELECT s.{sku_pk}, p.{product_category}, c1.{parent}, c2.{parent}, c3.{parent} "  # noqa: S608
        f"FROM {sku} s JOIN {product} p ON p.{product_pk} = s.{sku_product} "
        f"LEFT JOIN {category} c1 ON c1.{category_pk} = p.{product_category} "
        f"LEFT JOIN {category} c2 ON c2.{category_pk} = c1.{parent} "
        f"LEFT JOIN {category} c3 ON c3.{category_pk} = c2.{parent} "
        f"WHERE s.{sku_pk} IN ({', '.join(['%s'] * len(sku_ids))})"
    )
    with connections[router.db_for_read(SKU)].cursor() as cursor:
        cursor.execute(statement, list(sku_ids))
        rows = cursor.fetchall()
    return {pk: {c for c in chain if c is not None} for pk, *chain in rows}
