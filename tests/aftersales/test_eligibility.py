"""The one eligibility function at every boundary of both seeded policies, counted in Shanghai days.

National standard (in force until 2026-01-01): return, exchange and repair 7 days, no-fault
return 7 days, 12-month warranty. Brand promise (from 2026-01-01): return 15 days, exchange and
repair 30 days, no-fault return 7 days, 12-month warranty. Deliveries at 23:50 Shanghai (15:50
UTC) so that a count in UTC would be a day off.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from aftersales.warranty import add_months, day_end, eligibility, policy_set, warranty_last_day
from catalog.services import price_set
from config.roles import SYSTEM
from orders.models import OrderLine
from tests.aftersales.helpers import delivered_line, loaded, placed_order, sh
from tests.factories import SKUFactory

TICK = timedelta(microseconds=1)

NATIONAL_DELIVERY = sh(2025, 6, 10, 23, 50)
BRAND_DELIVERY = sh(2026, 3, 10, 23, 50)
NATIONAL_WARRANTY = "repair under the 12-month warranty allowed until 2026-06-10 (day 365)"
BRAND_WARRANTY = "repair under the 12-month warranty allowed until 2027-03-10 (day 365)"
GONE = "no return, exchange or repair is possible any more"


def last_moment_of(day: datetime) -> datetime:
    return day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1) - TICK


@pytest.fixture
def national(world):
    return delivered_line(world, at=NATIONAL_DELIVERY)


@pytest.fixture
def brand(world):
    return delivered_line(world, at=BRAND_DELIVERY)


def test_the_seeded_policy_of_the_delivery_day_is_stored_on_the_line(national, brand):
    assert national.warranty_policy.code == "national-standard"
    assert brand.warranty_policy.code == "brand-promise"
    assert NATIONAL_DELIVERY == datetime(2025, 6, 10, 15, 50, tzinfo=UTC)
    # the return window ends at the Shanghai midnight that starts day 16
    assert brand.returnable_until == sh(2026, 3, 26)
    assert national.returnable_until == sh(2025, 6, 18)


# --- national standard: 7 / 7 / 7, then the warranty ---------------------------------------------

NATIONAL_DAY_7 = last_moment_of(sh(2025, 6, 17))
NATIONAL_DAY_8 = sh(2025, 6, 18)


@pytest.mark.parametrize(
    ("kind", "fault", "at", "allowed", "day", "reason"),
    [
        (
            "return",
            True,
            NATIONAL_DAY_7,
            True,
            7,
            f"Day 7 after delivery: return, exchange or repair allowed until day 7; {NATIONAL_WARRANTY}.",
        ),
        ("exchange", True, NATIONAL_DAY_7, True, 7, None),
        ("repair", True, NATIONAL_DAY_7, True, 7, None),
        (
            "return",
            True,
            NATIONAL_DAY_8,
            False,
            8,
            f"Day 8 after delivery: the 7-day return window has closed; {NATIONAL_WARRANTY}.",
        ),
        (
            "exchange",
            True,
            NATIONAL_DAY_8,
            False,
            8,
            f"Day 8 after delivery: the 7-day exchange window has closed; {NATIONAL_WARRANTY}.",
        ),
        (
            "repair",
            True,
            NATIONAL_DAY_8,
            True,
            8,
            f"Day 8 after delivery: {NATIONAL_WARRANTY}; the 7-day repair window closed on day 7.",
        ),
        (
            "return",
            False,
            NATIONAL_DAY_7,
            True,
            7,
            "Day 7 after delivery: return without a fault allowed until day 7.",
        ),
        (
            "return",
            False,
            NATIONAL_DAY_8,
            False,
            8,
            "Day 8 after delivery: the 7-day window for returns without a fault has closed; "
            f"with a fault: {NATIONAL_WARRANTY}.",
        ),
        ("repair", True, last_moment_of(sh(2026, 6, 10)), True, 365, None),
        (
            "repair",
            True,
            sh(2026, 6, 11),
            False,
            366,
            f"Day 366 after delivery: the 12-month warranty ended on 2026-06-10 (day 365); {GONE}.",
        ),
    ],
)
def test_national_standard_boundaries(national, kind, fault, at, allowed, day, reason):
    answer = eligibility(line=national, kind=kind, fault=fault, at=at)

    assert (answer.allowed, answer.day, answer.policy.code) == (allowed, day, "national-standard")
    if reason:
        assert answer.reason == reason


def test_national_standard_kinds_allowed_on_day_7_and_8(national):
    assert eligibility(line=national, kind="return", fault=True, at=NATIONAL_DAY_7).kinds_allowed == [
        "return",
        "exchange",
        "repair",
    ]
    day_8 = eligibility(line=national, kind="return", fault=True, at=NATIONAL_DAY_8)
    assert day_8.kinds_allowed == ["repair"]
    assert eligibility(line=national, kind="repair", fault=True, at=NATIONAL_DAY_8).under_warranty
    assert not eligibility(line=national, kind="repair", fault=True, at=NATIONAL_DAY_7).under_warranty


# --- brand promise: 15 / 30 / 30 + 12 months --------------------------------------------------------

BRAND_DAY_15 = last_moment_of(sh(2026, 3, 25))
BRAND_DAY_16 = sh(2026, 3, 26)
BRAND_DAY_30 = last_moment_of(sh(2026, 4, 9))
BRAND_DAY_31 = sh(2026, 4, 10)
BRAND_LAST_WARRANTY_DAY = last_moment_of(sh(2027, 3, 10))
BRAND_AFTER_WARRANTY = sh(2027, 3, 11)


@pytest.mark.parametrize(
    ("kind", "at", "allowed", "day", "reason"),
    [
        (
            "return",
            BRAND_DAY_15,
            True,
            15,
            "Day 15 after delivery: return allowed until day 15; exchange or repair allowed until day 30; "
            f"{BRAND_WARRANTY}.",
        ),
        (
            "return",
            BRAND_DAY_16,
            False,
            16,
            "Day 16 after delivery: the 15-day return window has closed; exchange or repair allowed until "
            f"day 30; {BRAND_WARRANTY}.",
        ),
        ("exchange", BRAND_DAY_16, True, 16, None),
        (
            "exchange",
            BRAND_DAY_30,
            True,
            30,
            f"Day 30 after delivery: exchange or repair allowed until day 30; {BRAND_WARRANTY}.",
        ),
        ("repair", BRAND_DAY_30, True, 30, None),
        (
            "exchange",
            BRAND_DAY_31,
            False,
            31,
            f"Day 31 after delivery: the 30-day exchange window has closed; {BRAND_WARRANTY}.",
        ),
        (
            "repair",
            BRAND_DAY_31,
            True,
            31,
            f"Day 31 after delivery: {BRAND_WARRANTY}; the 30-day repair window closed on day 30.",
        ),
        (
            "repair",
            BRAND_LAST_WARRANTY_DAY,
            True,
            365,
            f"Day 365 after delivery: {BRAND_WARRANTY}; the 30-day repair window closed on day 30.",
        ),
        (
            "repair",
            BRAND_AFTER_WARRANTY,
            False,
            366,
            f"Day 366 after delivery: the 12-month warranty ended on 2027-03-10 (day 365); {GONE}.",
        ),
        (
            "exchange",
            BRAND_AFTER_WARRANTY,
            False,
            366,
            f"Day 366 after delivery: the 30-day exchange window has closed; {GONE}.",
        ),
    ],
)
def test_brand_promise_boundaries(brand, kind, at, allowed, day, reason):
    answer = eligibility(line=brand, kind=kind, fault=True, at=at)

    assert (answer.allowed, answer.day, answer.policy.code) == (allowed, day, "brand-promise")
    if reason:
        assert answer.reason == reason


def test_brand_promise_says_what_is_still_allowed_after_the_return_window(brand):
    day_16 = eligibility(line=brand, kind="return", fault=True, at=BRAND_DAY_16)
    assert day_16.reason.startswith(
        "Day 16 after delivery: the 15-day return window has closed; exchange or repair allowed until day 30"
    )
    assert day_16.kinds_allowed == ["exchange", "repair"]
    assert eligibility(line=brand, kind="repair", fault=True, at=BRAND_DAY_31).kinds_allowed == ["repair"]
    assert eligibility(line=brand, kind="repair", fault=True, at=BRAND_AFTER_WARRANTY).kinds_allowed == []


def test_the_return_window_ends_exactly_at_the_stored_returnable_until(brand):
    end = brand.returnable_until
    assert end == day_end(BRAND_DELIVERY, 15)
    assert eligibility(line=brand, kind="return", fault=True, at=end - TICK).allowed
    assert not eligibility(line=brand, kind="return", fault=True, at=end).allowed


def test_days_are_counted_on_the_shanghai_calendar_not_utc(world):
    # 23:50 Shanghai: ten minutes later it is day 1, though UTC still shows the delivery date
    late = delivered_line(world, at=BRAND_DELIVERY)
    answer = eligibility(line=late, kind="return", fault=True, at=sh(2026, 3, 11, 0, 0))
    assert answer.day == 1
    assert answer.reason.startswith("Day 1 after delivery: return allowed until day 15")
    assert eligibility(line=late, kind="return", fault=True, at=sh(2026, 3, 10, 23, 59)).day == 0
    assert eligibility(line=late, kind="return", fault=True, at=sh(2026, 3, 10, 23, 59)).reason.startswith(
        "Delivery day (day 0): return allowed until day 15"
    )

    # 00:10 Shanghai is 16:10 UTC the day before: a UTC count would close the window a day early
    early = delivered_line(world, at=sh(2026, 3, 11, 0, 10))
    assert early.order.delivered_at.astimezone(UTC).date() == date(2026, 3, 10)
    day_15 = eligibility(line=early, kind="return", fault=True, at=last_moment_of(sh(2026, 3, 26)))
    assert (day_15.allowed, day_15.day) == (True, 15)
    assert not eligibility(line=early, kind="return", fault=True, at=sh(2026, 3, 27)).allowed


# --- no-fault returns --------------------------------------------------------------------------------


def test_a_return_without_a_fault_follows_the_no_fault_window(brand):
    day_7 = eligibility(line=brand, kind="return", fault=False, at=last_moment_of(sh(2026, 3, 17)))
    assert (day_7.allowed, day_7.day, day_7.kinds_allowed) == (True, 7, ["return"])
    assert day_7.reason == "Day 7 after delivery: return without a fault allowed until day 7."

    day_8 = eligibility(line=brand, kind="return", fault=False, at=sh(2026, 3, 18))
    assert (day_8.allowed, day_8.day, day_8.kinds_allowed) == (False, 8, [])
    assert day_8.reason == (
        "Day 8 after delivery: the 7-day window for returns without a fault has closed; with a fault: "
        f"return allowed until day 15; exchange or repair allowed until day 30; {BRAND_WARRANTY}."
    )
    # the same day a faulty product may still be returned
    assert eligibility(line=brand, kind="return", fault=True, at=sh(2026, 3, 18)).allowed


def test_exchange_and_repair_are_for_faulty_products(brand):
    answer = eligibility(line=brand, kind="exchange", fault=False, at=sh(2026, 3, 12))
    assert not answer.allowed
    assert answer.reason.startswith(
        "Day 2 after delivery: exchange is for a faulty product; return without a fault allowed until day 7"
    )
    assert not eligibility(line=brand, kind="repair", fault=False, at=sh(2026, 3, 12)).allowed


def test_a_policy_without_a_no_fault_window_needs_a_fault_for_any_return(world):
    policy_set(
        code="strict",
        name="Strict",
        category=world.tv.product.category,
        return_days=15,
        exchange_days=30,
        repair_days=30,
        warranty_months=12,
        no_fault_return_days=None,
        actor=SYSTEM,
    )
    line = delivered_line(world, at=datetime.now(UTC))
    answer = eligibility(
        line=line, kind="return", fault=False, at=line.order.delivered_at + timedelta(days=1)
    )
    assert not answer.allowed
    assert answer.reason.startswith(
        "Day 1 after delivery: under “Strict” a return needs a fault; with a fault:"
    )


# --- months of warranty by the calendar -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 3, 10), 12, date(2027, 3, 10)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 5, 5), 0, date(2026, 5, 5)),
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(start, months, expected):
    assert add_months(start, months) == expected


def test_warranty_last_day_is_the_same_date_months_later_in_shanghai():
    # 2026-01-31 23:50 Shanghai is still 31 January there (15:50 UTC)
    assert warranty_last_day(sh(2026, 1, 31, 23, 50), 1) == (date(2026, 2, 28), 28)
    assert warranty_last_day(BRAND_DELIVERY, 12) == (date(2027, 3, 10), 365)


# --- the line itself ---------------------------------------------------------------------------------


def test_a_line_not_delivered_yet_is_refused(world):
    order = placed_order(world)
    answer = eligibility(line=loaded(order.lines.get()), kind="repair", fault=True)
    assert (answer.allowed, answer.day, answer.kinds_allowed) == (False, None, [])
    assert answer.reason == (
        f"Order {order.number} is not delivered yet: service starts when the customer has the goods."
    )


def test_an_instant_before_the_delivery_is_refused(brand):
    assert not eligibility(line=brand, kind="return", fault=True, at=BRAND_DELIVERY - TICK).allowed


def test_a_line_returned_in_full_is_refused_and_a_partly_returned_one_counts_what_is_left(world):
    line = delivered_line(world, at=BRAND_DELIVERY, quantity=2)
    at = sh(2026, 3, 12)
    OrderLine.objects.filter(pk=line.pk).update(returned_quantity=1)
    line = loaded(line)
    assert eligibility(line=line, kind="return", fault=True, at=at).allowed
    too_many = eligibility(line=line, kind="return", fault=True, at=at, quantity=2)
    assert not too_many.allowed
    assert too_many.reason == "Only 1 of 2 units of this line are still with the customer."

    OrderLine.objects.filter(pk=line.pk).update(returned_quantity=2)
    answer = eligibility(line=loaded(line), kind="repair", fault=True, at=at)
    assert (answer.allowed, answer.kinds_allowed) == (False, [])
    assert answer.reason == "Every unit of this line (2) was returned already."


def test_unknown_request_type_is_refused(brand):
    answer = eligibility(line=brand, kind="upgrade", fault=True, at=sh(2026, 3, 12))
    assert not answer.allowed and "upgrade" in answer.reason


def test_a_line_delivered_before_lines_kept_their_policy_uses_the_one_in_force_that_day(national, brand):
    OrderLine.objects.filter(pk__in=[national.pk, brand.pk]).update(warranty_policy=None)
    old, new = loaded(national), loaded(brand)

    assert (
        eligibility(line=old, kind="return", fault=True, at=NATIONAL_DAY_8).policy.code == "national-standard"
    )
    assert not eligibility(line=old, kind="return", fault=True, at=NATIONAL_DAY_8).allowed
    assert eligibility(line=new, kind="return", fault=True, at=BRAND_DAY_15).policy.code == "brand-promise"
    assert eligibility(line=new, kind="return", fault=True, at=BRAND_DAY_15).allowed


def test_no_policy_in_force_at_delivery_is_refused_in_words(world):
    line = delivered_line(world, at=sh(1999, 12, 31, 12))  # before the national standard's row starts
    assert line.warranty_policy is None
    answer = eligibility(line=line, kind="repair", fault=True, at=sh(2000, 1, 2))
    assert (answer.allowed, answer.reason) == (False, "No warranty policy covers this product.")


def test_eligibility_of_a_loaded_line_costs_no_query(brand, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = eligibility(line=brand, kind="exchange", fault=True, at=BRAND_DAY_16)
    assert answer.allowed


# --- serial numbers ----------------------------------------------------------------------------------


@pytest.fixture
def tracked(world):
    sku = SKUFactory(code="TV-75", serial_tracked=True)
    price_set(
        sku=sku,
        channel=None,
        amount="6999.00",
        valid_from=datetime.now(UTC) - timedelta(days=1),
        actor=SYSTEM,
    )
    return sku


def test_a_serial_tracked_line_needs_the_serial_of_a_unit_sold_on_it(world, tracked):
    line = delivered_line(world, at=BRAND_DELIVERY, sku=tracked, quantity=2, serials=["SN-A1", "sn-a2"])
    other = delivered_line(world, at=BRAND_DELIVERY, sku=tracked, serials=["SN-B1"])
    at = sh(2026, 3, 12)

    missing = eligibility(line=line, kind="return", fault=True, at=at)
    assert not missing.allowed
    assert missing.reason == "TV-75 is serial-tracked: give the serial number of the unit."
    assert missing.kinds_allowed == ["return", "exchange", "repair"]  # what a valid serial would allow

    unit = line.units.get(serial="SN-A2")
    assert eligibility(line=line, kind="return", fault=True, at=at, unit=unit).allowed
    by_serial = eligibility(line=line, kind="return", fault=True, at=at, serial=" sn-a2 ")
    assert (by_serial.allowed, by_serial.unit) == (True, unit)

    unknown = eligibility(line=line, kind="return", fault=True, at=at, serial="SN-ZZ")
    assert (unknown.allowed, unknown.reason) == (False, "Serial SN-ZZ was never sold as TV-75.")

    elsewhere = eligibility(line=line, kind="repair", fault=True, at=at, serial="SN-B1")
    assert (elsewhere.allowed, elsewhere.reason) == (False, "Serial SN-B1 was not sold on this order line.")
    other_unit = other.units.get()
    assert not eligibility(line=line, kind="repair", fault=True, at=at, unit=other_unit).allowed


def test_a_returned_serial_is_refused(world, tracked):
    line = delivered_line(world, at=BRAND_DELIVERY, sku=tracked, serials=["SN-R1"])
    line.units.update(returned_at=sh(2026, 3, 12, 10))
    answer = eligibility(line=line, kind="repair", fault=True, at=sh(2026, 3, 13), serial="SN-R1")
    assert (answer.allowed, answer.reason) == (False, "Serial SN-R1 was returned on 2026-03-12.")


def test_a_serial_sold_again_after_its_return_belongs_to_the_new_line(world, tracked):
    first = delivered_line(world, at=BRAND_DELIVERY, sku=tracked, serials=["SN-X"])
    first.units.update(returned_at=sh(2026, 3, 12, 10))
    again = delivered_line(world, at=sh(2026, 3, 20, 10), sku=tracked, serials=["SN-X"])

    answer = eligibility(line=again, kind="return", fault=True, at=sh(2026, 3, 21), serial="SN-X")
    assert answer.allowed and answer.unit.line_id == again.pk
    assert not eligibility(line=first, kind="return", fault=True, at=sh(2026, 3, 13), serial="SN-X").allowed


def test_eligibility_by_serial_costs_one_query(world, tracked, django_assert_num_queries):
    line = delivered_line(world, at=BRAND_DELIVERY, sku=tracked, serials=["SN-Q"])
    with django_assert_num_queries(1):
        assert eligibility(line=line, kind="return", fault=True, at=sh(2026, 3, 12), serial="SN-Q").allowed
