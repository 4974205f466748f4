"""Pricing a basket (marketing.pricing) and storing it on the order: catalogue promotions, order
promotions, coupons and their refusals, the allocation to lines, and promotions as versioned data."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketing.choices import AuditAction, CouponKind, PromotionKind
from marketing.errors import CouponRefused, PromotionRefused
from marketing.models import CouponRedemption, Promotion, PromotionChange
from marketing.pricing import allocate, price_basket
from orders.models import LineDiscount, Order
from tests.factories import CategoryFactory, MemberFactory, ProductFactory

D = Decimal


def quote(shop, lines, *, member=None, codes=(), channel=None, at=None):
    return price_basket(
        channel=channel or shop.world.mall,
        lines=[(sku, qty, price) for sku, qty, price in lines],
        member=member,
        codes=codes,
        at=at or timezone.now(),
    )


def refusal(excinfo) -> tuple[str, list]:
    error = excinfo.value
    return str(error), error.fields["coupons"]


# --- allocation ---------------------------------------------------------------------------------


def test_allocate_splits_to_the_cent_by_largest_remainder_and_sums_exactly():
    assert allocate(D("0.10"), [D(1), D(1), D(1)]) == [D("0.04"), D("0.03"), D("0.03")]
    assert allocate(D("50"), [D("200"), D("200")]) == [D("25.00"), D("25.00")]
    parts = allocate(D("33.33"), [D("19.99"), D("0.01"), D("7.77"), D("100")])
    assert sum(parts) == D("33.33") and all(
        p <= w for p, w in zip(parts, [D("19.99"), D("0.01"), D("7.77"), D(100)], strict=True)
    )
    assert allocate(D("5"), [D(0), D(0)]) == [D(0), D(0)]


# --- catalogue promotions -----------------------------------------------------------------------


@pytest.mark.django_db
def test_each_line_takes_the_one_catalogue_promotion_that_gives_most(shop):
    w = shop.world
    shop.promo(PromotionKind.PERCENT_OFF, code="tv-10", percent=D("10"), skus=[w.tv])  # 299.90
    shop.promo(PromotionKind.AMOUNT_OFF, code="tv-300", amount=D("300"), skus=[w.tv])  # 300 a unit: best
    shop.promo(
        PromotionKind.PERCENT_OFF, code="phone-cat", percent=D("5"), categories=[w.phone.product.category]
    )
    q = quote(shop, [(w.tv, 2, D("2999")), (w.phone, 1, D("1999"))])
    tv, phone = q.lines
    assert [(d.promotion.code, d.amount) for d in tv.discounts] == [("tv-300", D("600"))]
    assert [(d.promotion.code, d.amount) for d in phone.discounts] == [("phone-cat", D("99.95"))]
    assert (q.subtotal, q.discount_total, q.total) == (D("7997"), D("699.95"), D("7297.05"))
    assert {a.name: a.amount for a in q.applied} == {"tv-300": D("600"), "phone-cat": D("99.95")}


@pytest.mark.django_db
def test_a_catalogue_promotion_never_takes_a_unit_below_one_cent(shop):
    w = shop.world
    shop.promo(PromotionKind.AMOUNT_OFF, code="huge", amount=D("5000"), skus=[w.phone])
    shop.promo(PromotionKind.PERCENT_OFF, code="all", percent=D("100"), skus=[w.tv])
    q = quote(shop, [(w.phone, 3, D("1999")), (w.tv, 1, D("2999"))])
    assert [line.net for line in q.lines] == [D("0.03"), D("0.01")]


@pytest.mark.django_db
def test_a_promotion_on_a_parent_category_covers_its_children_and_ends_at_its_window(shop):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    sku = shop.sku("100", product=ProductFactory(category=child))
    promotion = shop.promo(PromotionKind.PERCENT_OFF, code="cat", percent=D("20"), categories=[parent])
    assert quote(shop, [(sku, 1, D("100"))]).total == D("80")
    # outside its window, or on a channel it does not name, it does not apply
    assert quote(shop, [(sku, 1, D("100"))], at=promotion.valid_from - timedelta(seconds=1)).total == D("100")
    shop.promo(
        PromotionKind.PERCENT_OFF,
        code="stores-only",
        percent=D("50"),
        skus=[sku],
        channels=[shop.world.stores_channel],
    )
    assert quote(shop, [(sku, 1, D("100"))]).total == D("80")
    assert quote(shop, [(sku, 1, D("100"))], channel=shop.world.stores_channel).total == D("50")


# --- order promotions ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_spend_threshold_takes_its_amount_once_allocated_over_the_eligible_lines(shop):
    a, b = shop.sku("200"), shop.sku("200")
    shop.threshold("300", "50")
    q = quote(shop, [(a, 1, D("200")), (b, 1, D("200"))])
    assert [line.discount for line in q.lines] == [D("25"), D("25")]
    assert [d.threshold for line in q.lines for d in line.discounts] == [D("300"), D("300")]
    assert q.total == D("350")
    # below the threshold nothing is taken off, and nothing refused
    assert quote(shop, [(a, 1, D("200"))]).discount_total == 0
    # the threshold looks at the basket after catalogue promotions
    shop.promo(PromotionKind.PERCENT_OFF, code="a-30", percent=D("30"), skus=[a])
    q = quote(shop, [(a, 1, D("200")), (b, 1, D("200"))])  # 140 + 200 = 340 >= 300
    assert q.total == D("290") and sum(line.discount for line in q.lines) == D("110")


@pytest.mark.django_db
def test_buy_n_takes_x_percent_off_every_nth_unit_the_cheapest_first(shop):
    pricey, cheap, other = shop.sku("100"), shop.sku("80"), shop.sku("1000")
    shop.promo(PromotionKind.NTH_ITEM, code="2nd-half", nth=2, percent=D("50"), skus=[pricey, cheap])
    q = quote(shop, [(pricey, 3, D("100")), (cheap, 1, D("80")), (other, 1, D("1000"))])
    # four eligible units: two are "the 2nd", the 80 one and one at 100
    assert [line.discount for line in q.lines] == [D("50"), D("40"), D("0")]
    assert q.discount_total == D("90")
    assert quote(shop, [(pricey, 1, D("100")), (other, 5, D("1000"))]).discount_total == 0


# --- coupons ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_amount_coupon_is_allocated_to_its_eligible_lines_in_proportion(shop):
    a, b, c = shop.sku("200"), shop.sku("100"), shop.sku("999")
    member = MemberFactory()
    coupon = shop.coupon("SAVE30", value="30", min_spend="100", skus=[a, b])
    code = shop.give(coupon, member)
    q = quote(
        shop, [(a, 1, D("200")), (b, 1, D("100")), (c, 1, D("999"))], member=member, codes=[code.lower()]
    )
    assert [line.discount for line in q.lines] == [D("20"), D("10"), D("0")]
    assert [(a.source, a.amount, a.code.code) for a in q.applied] == [("coupon", D("30"), code)]
    assert q.codes[0].code == code


@pytest.mark.django_db
def test_a_percent_coupon_takes_its_percent_of_the_eligible_lines_after_promotions(shop):
    a, b = shop.sku("200"), shop.sku("100")
    shop.promo(PromotionKind.AMOUNT_OFF, code="a-50", amount=D("50"), skus=[a])
    member = MemberFactory()
    code = shop.give(shop.coupon("TEN", kind=CouponKind.PERCENT, value="10", skus=[a]), member)
    q = quote(shop, [(a, 1, D("200")), (b, 1, D("100"))], member=member, codes=[code])
    assert [line.discount for line in q.lines] == [D("65"), D("0")]  # 50, then 10% of 150
    assert q.total == D("235")


@pytest.mark.django_db
def test_a_basket_short_of_the_minimum_spend_is_refused_saying_so(shop):
    a = shop.sku("99.99")
    member = MemberFactory()
    code = shop.give(shop.coupon("MIN100", value="10", min_spend="100"), member)
    with pytest.raises(CouponRefused) as excinfo:
        quote(shop, [(a, 1, D("99.99"))], member=member, codes=[code])
    message, fields = refusal(excinfo)
    assert "100" in message and "99.99" in message and fields == ["Minimum spend not reached."]
    assert quote(shop, [(a, 2, D("99.99"))], member=member, codes=[code]).total == D("189.98")


@pytest.mark.django_db
def test_another_members_code_is_answered_as_an_unknown_one(shop):
    mine, theirs = MemberFactory(), MemberFactory()
    code = shop.give(shop.coupon(), theirs)
    a = shop.sku("100")
    with pytest.raises(CouponRefused) as foreign:
        quote(shop, [(a, 1, D("100"))], member=mine, codes=[code])
    with pytest.raises(CouponRefused) as unknown:
        quote(shop, [(a, 1, D("100"))], member=mine, codes=["ZZZZZZZZZZZZ"])
    assert refusal(foreign)[0].replace(code, "X") == refusal(unknown)[0].replace("ZZZZZZZZZZZZ", "X")
    assert refusal(foreign)[1] == [f"Unknown coupon {code}."]
    # no member on the order: no code is anyone's
    with pytest.raises(CouponRefused):
        quote(shop, [(a, 1, D("100"))], member=None, codes=[code])


@pytest.mark.django_db
def test_a_used_code_is_refused_and_its_order_is_not_written(shop):
    member = MemberFactory()
    code = shop.give(shop.coupon(value="30"), member)
    first = shop.order(member, coupons=[code])
    assert first.discount_total == D("30")
    with pytest.raises(CouponRefused) as excinfo:
        shop.order(member, coupons=[code])
    assert refusal(excinfo)[1] == ["Already used."]
    assert Order.objects.count() == 1
    assert CouponRedemption.objects.count() == 1


@pytest.mark.django_db
def test_a_code_out_of_its_window_or_channel_is_refused(shop):
    w = shop.world
    member = MemberFactory()
    now = timezone.now()
    later = shop.give(shop.coupon("LATER", valid_from=now + timedelta(days=1)), member)
    ending = shop.give(
        shop.coupon("ENDING", valid_from=now - timedelta(days=2), valid_to=now + timedelta(hours=1)), member
    )
    in_store = shop.give(shop.coupon("INSTORE", channels=[w.stores_channel]), member)
    basket = [(w.tv, 1, D("2999"))]
    for code, at, field in (
        (later, now, "Not valid now."),
        (ending, now + timedelta(hours=2), "Not valid now."),
        (in_store, now, "Not on this channel."),
    ):
        with pytest.raises(CouponRefused) as excinfo:
            quote(shop, basket, member=member, codes=[code], at=at)
        assert refusal(excinfo)[1] == [field]
    assert quote(shop, basket, member=member, codes=[in_store], channel=w.stores_channel).total == D("2969")
    assert quote(shop, basket, member=member, codes=[ending], at=now).total == D("2969")


@pytest.mark.django_db
def test_two_codes_of_one_coupon_on_one_order_are_refused(shop):
    member = MemberFactory()
    coupon = shop.coupon(per_member_limit=2)
    first, second = shop.give(coupon, member), shop.give(coupon, member)
    with pytest.raises(CouponRefused) as excinfo:
        quote(shop, [(shop.world.tv, 1, D("2999"))], member=member, codes=[first, second])
    assert refusal(excinfo)[1] == ["Two codes of one coupon."]
    # the same code twice is one code
    assert (
        quote(
            shop, [(shop.world.tv, 1, D("2999"))], member=member, codes=[first, first.lower()]
        ).discount_total
        == 30
    )


@pytest.mark.django_db
@pytest.mark.parametrize("hostile", ["A\x00B", "X" * 300, "%", "１２３", "' OR 1=1 --", 10**12, 1e400, None])
def test_hostile_codes_are_refused_cleanly(shop, hostile):
    member = MemberFactory()
    for coupons in ([hostile], hostile):
        with pytest.raises(CouponRefused):
            shop.order(member, coupons=coupons if hostile is not None else [hostile, "NOPE"])
    assert not Order.objects.exists()


# --- on the order -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_order_stores_every_discount_per_line_and_they_sum_to_its_discount(shop):
    w = shop.world
    member = MemberFactory()
    shop.promo(PromotionKind.PERCENT_OFF, code="tv-10", name="TV 10% off", percent=D("10"), skus=[w.tv])
    shop.threshold("3000", "100", name="Spend 3000 save 100")
    code = shop.give(shop.coupon("C7", value="7.77", min_spend="1000"), member)
    order = shop.order(member, lines=[(w.tv, 1), (w.phone, 2)], coupons=[code])
    tv, phone = order.lines.order_by("sku__code").reverse()  # TV-55, PHONE-1
    assert tv.sku == w.tv
    rows = list(
        LineDiscount.objects.filter(line__order=order)
        .order_by("id")
        .values_list("line", "source", "label", "amount")
    )
    # TV: 299.90 off; then 100 over 2699.10 + 3998 = 6697.10; then 7.77 over what is left
    assert rows[0] == (tv.pk, "promotion", "TV 10% off", D("299.90"))
    by_line = {}
    for line_id, _source, _label, amount in rows:
        by_line[line_id] = by_line.get(line_id, D(0)) + amount
    assert by_line == {tv.pk: tv.discount, phone.pk: phone.discount}
    for line in (tv, phone):
        assert line.line_total == line.unit_price * line.quantity - line.discount
    assert order.discount_total == tv.discount + phone.discount == D("299.90") + D("100") + D("7.77")
    assert order.total == order.subtotal - order.discount_total == tv.line_total + phone.line_total
    labels = {label for _l, _s, label, _a in rows}
    assert labels == {"TV 10% off", "Spend 3000 save 100", "Coupon C7"}
    redemption = CouponRedemption.objects.get()
    assert (redemption.order_number, redemption.discount, redemption.net_sales) == (
        order.number,
        D("7.77"),
        order.total,
    )


@pytest.mark.django_db
def test_an_order_without_any_discount_has_no_discount_rows(shop):
    order = shop.order()
    assert order.discount_total == 0 and not LineDiscount.objects.exists()
    assert order.lines.get().line_total == D("2999")


# --- promotions as data -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_promotion_on_a_unified_sku_limited_to_channels_is_refused(shop):
    w = shop.world
    unified = shop.sku("100", unified=True)
    with pytest.raises(PromotionRefused) as excinfo:
        shop.promo(PromotionKind.PERCENT_OFF, percent=D("10"), skus=[unified], channels=[w.mall])
    assert excinfo.value.fields == {"channels": ["Leave empty: every channel."]}
    with pytest.raises(PromotionRefused):  # through its category too
        shop.promo(
            PromotionKind.AMOUNT_OFF, amount=D("5"), categories=[unified.product.category], channels=[w.mall]
        )
    assert not Promotion.objects.exists()
    promotion = shop.promo(PromotionKind.PERCENT_OFF, percent=D("10"), skus=[unified])
    assert (
        quote(shop, [(unified, 1, D("100"))]).total
        == quote(shop, [(unified, 1, D("100"))], channel=w.stores_channel).total
        == D("90")
    )
    assert promotion.channels.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"kind": PromotionKind.PERCENT_OFF, "percent": D("0")},
        {"kind": PromotionKind.PERCENT_OFF, "percent": D("100.5")},
        {"kind": PromotionKind.PERCENT_OFF, "percent": "1e400"},
        {"kind": PromotionKind.AMOUNT_OFF, "amount": 10**12},
        {"kind": PromotionKind.AMOUNT_OFF, "amount": "%"},
        {"kind": PromotionKind.SPEND_THRESHOLD, "threshold": D("50"), "amount": D("50")},
        {"kind": PromotionKind.NTH_ITEM, "nth": 1, "percent": D("50")},
        {"kind": PromotionKind.NTH_ITEM, "nth": "2", "percent": D("50")},
        {"kind": PromotionKind.PERCENT_OFF, "percent": D("10"), "skus": []},
        {"kind": "bogus"},
    ],
)
def test_bad_promotions_are_refused_and_write_nothing(shop, fields):
    fields = dict(fields)
    kind = fields.pop("kind")
    fields.setdefault("skus", [shop.world.tv])
    with pytest.raises(PromotionRefused):
        shop.promo(kind, **fields)
    assert not Promotion.objects.exists() and not PromotionChange.objects.exists()


@pytest.mark.django_db
def test_a_new_version_closes_the_open_one_and_both_are_audited(shop, hq):
    w = shop.world
    start = timezone.now() - timedelta(days=2)
    first = promotion_set_as(hq, code="tv", percent=D("10"), skus=[w.tv], valid_from=start)
    switch = start + timedelta(days=1)
    second = promotion_set_as(hq, code="tv", percent=D("20"), skus=[w.tv], valid_from=switch)
    first.refresh_from_db()
    assert first.valid_to == switch and second.valid_to is None
    changes = list(PromotionChange.objects.order_by("id").values_list("promotion", "action", "changed_by"))
    assert changes == [
        (first.pk, AuditAction.CREATED, hq.pk),
        (first.pk, AuditAction.ENDED, hq.pk),
        (second.pk, AuditAction.CREATED, hq.pk),
    ]
    basket = [(w.tv, 1, D("1000"))]
    assert quote(shop, basket, at=switch - timedelta(seconds=1)).total == D("900")
    assert quote(shop, basket, at=switch).total == D("800")
    # ending it closes the window now; the versions stay for the orders they priced
    from marketing.services import promotion_end

    promotion_end(promotion=second, actor=hq)
    assert quote(shop, basket).total == D("1000")
    assert Promotion.objects.filter(code="tv").count() == 2
    with pytest.raises(PromotionRefused):
        promotion_end(promotion=second, actor=hq)


def promotion_set_as(actor, *, code, valid_from, **fields):
    from marketing.services import promotion_set

    return promotion_set(
        code=code, name=code, kind=PromotionKind.PERCENT_OFF, valid_from=valid_from, actor=actor, **fields
    )


@pytest.mark.django_db
def test_only_hq_sets_promotions(shop):
    from config.errors import Forbidden
    from tests.factories import clerk_at

    with pytest.raises(Forbidden):
        promotion_set_as(
            clerk_at(shop.world.a), code="x", percent=D("10"), skus=[shop.world.tv], valid_from=timezone.now()
        )
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_a_version_starting_before_the_latest_is_refused_so_two_versions_are_never_live(shop, hq):
    w = shop.world
    start = timezone.now() - timedelta(days=2)
    promotion_set_as(hq, code="tv", percent=D("10"), skus=[w.tv], valid_from=start)
    for when in (start, start - timedelta(days=1)):
        with pytest.raises(PromotionRefused) as excinfo:
            promotion_set_as(hq, code="tv", percent=D("20"), skus=[w.tv], valid_from=when)
        assert "valid_from" in excinfo.value.fields
    assert Promotion.objects.count() == 1 and PromotionChange.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, name, field",
    [
        ("", "Name", "code"),
        ("a b", "Name", "code"),
        ("x" * 41, "Name", "code"),
        ("ok\x00", "Name", "code"),
        ("ok", "", "name"),
        ("ok", "N" * 300, "name"),
        ("ok", "N\x00", "name"),
        (None, None, "code"),
    ],
)
def test_a_promotion_or_coupon_with_a_bad_code_or_name_is_refused(shop, code, name, field):
    from marketing.models import Coupon
    from marketing.services import coupon_define, promotion_set

    with pytest.raises(PromotionRefused) as excinfo:
        promotion_set(
            code=code,
            name=name,
            kind=PromotionKind.PERCENT_OFF,
            percent=D("5"),
            skus=[shop.world.tv],
            valid_from=timezone.now(),
            actor=hq_actor(),
        )
    assert field in excinfo.value.fields
    with pytest.raises(CouponRefused) as excinfo:
        coupon_define(
            code=code,
            name=name,
            kind=CouponKind.AMOUNT,
            value=D("5"),
            valid_from=timezone.now(),
            actor=hq_actor(),
        )
    assert field in excinfo.value.fields
    assert not Promotion.objects.exists() and not Coupon.objects.exists()


def hq_actor():
    from config.roles import SYSTEM

    return SYSTEM


@pytest.mark.django_db
def test_any_promotion_naming_a_unified_sku_deep_in_a_category_covers_every_channel(shop):
    w = shop.world
    top = CategoryFactory()
    middle = CategoryFactory(parent=top)
    leaf = CategoryFactory(parent=middle)
    unified = shop.sku("100", unified=True, product=ProductFactory(category=leaf))
    with pytest.raises(PromotionRefused):
        shop.promo(PromotionKind.PERCENT_OFF, percent=D("10"), categories=[top], channels=[w.mall])
    with pytest.raises(PromotionRefused):
        shop.threshold("300", "50", skus=[unified], channels=[w.mall])
    with pytest.raises(PromotionRefused):
        shop.promo(PromotionKind.NTH_ITEM, nth=2, percent=D("50"), categories=[middle], channels=[w.mall])
    assert not Promotion.objects.exists()
    # a basket-wide order promotion may be one channel's (it names no SKU); so may one on other SKUs
    shop.threshold("300", "50", code="stores-300", channels=[w.stores_channel])
    shop.promo(PromotionKind.PERCENT_OFF, code="tv", percent=D("10"), skus=[w.tv], channels=[w.mall])
    assert Promotion.objects.count() == 2
