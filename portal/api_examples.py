"""Examples in the OpenAPI schema, kept in one place and keyed by operationId.

`openapi_examples_hook` (a drf-spectacular postprocessing hook, last in
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds to the generated schema:
- to every error response (4xx), examples of the one error shape {"code", "message", "fields"}:
  the operation's own (OPERATION_ERRORS: `price_mismatch`, `insufficient_points`...) first, then the
  shared ones every operation can give (a field error, a bad key, a missing scope, an unknown id,
  an Idempotency-Key reused, throttling) - and the `Retry-After` header of a 429;
- to the main integrator operations, a request example (REQUESTS) and a response example
  (RESPONSES) for their JSON bodies.

Every example is valid against its schema (tests/contract/test_examples.py), and schemathesis sends
the request examples to the live app in tests/contract/test_fuzz.py. The values are those of a
mall channel key: channel `mall`, SKU `TV-55`, store `A` (the same as tests/world.py's), so the
fuzzer's examples meet real rows. A key writes rows as nobody: `created_by`/`changed_by` are null."""

import re
from copy import deepcopy

from integrations.permissions import KeyScopes

JSON = "application/json"

# The shared errors, by status: each a named example of the error shape.
STORE_A = {"id": 1, "code": "A", "name": "Wangfujing flagship", "kind": "own_flagship", "city": "Beijing"}


def _error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def _ex(summary: str, value) -> dict:
    return {"summary": summary, "value": value}


UNAUTHENTICATED = {
    "key_invalid": _ex("Unknown API key", _error("key_invalid", "Unknown API key.")),
    "key_revoked": _ex("Revoked API key", _error("key_revoked", "This API key was revoked.")),
    "key_expired": _ex("Expired API key", _error("key_expired", "This API key has expired.")),
}
NOT_FOUND_DETAIL = _ex("Unknown id, or not yours", _error("not_found", "Not found."))
NOT_FOUND_PAGE = _ex("A page past the last one", _error("not_found", "Invalid page."))
IDEMPOTENCY_CONFLICTS = {
    "idempotency_conflict": _ex(
        "Idempotency-Key reused with another request",
        _error(
            "idempotency_conflict",
            "This Idempotency-Key was already used for a different request.",
            {"Idempotency-Key": ["Already used with another method, path or body."]},
        ),
    ),
    "idempotency_in_progress": _ex(
        "The first request with this Idempotency-Key is still running (Retry-After: 1)",
        _error(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still running; retry in a moment.",
        ),
    ),
}
THROTTLED = {
    "throttled": _ex(
        "Too many requests for this key (Retry-After: 42)",
        _error("throttled", "Request was throttled. Expected available in 42 seconds."),
    )
}
BAD_IDEMPOTENCY_KEY = _ex(
    "Idempotency-Key too long or not printable",
    _error(
        "invalid",
        "An Idempotency-Key is at most 255 printable characters.",
        {"Idempotency-Key": ["Too long or not printable."]},
    ),
)
BAD_FILTER = _ex(
    "A filter that is not valid",
    _error("invalid", "The request is not valid.", {"page_size": ["A valid integer is required."]}),
)


def _conflict(code: str, summary: str, message: str, fields: dict | None = None) -> dict:
    return {code: _ex(summary, _error(code, message, fields))}


ILLEGAL_TRANSITION = {
    "illegal_transition": _ex(
        "Not allowed in the current status",
        _error(
            "illegal_transition",
            "Cannot move order from “shipped” to “cancelled”.",
            {"status": ["current: shipped, wanted: cancelled"]},
        ),
    )
}

KEYS_ARE_FOR_HQ = {
    "hq_only": _ex(
        "Not an HQ admin, or an API key",
        _error("permission_denied", "Only HQ admins may manage API keys."),
    )
}

# Errors particular to an operation, by operationId and status: listed before the shared ones.
OPERATION_ERRORS = {
    "orders_create": {
        400: {
            "price_mismatch": _ex(
                "The expected unit price is not the live price",
                _error(
                    "price_mismatch",
                    "TV-55 costs 2799.00 on Own mall, not 2999.00.",
                    {"lines[0].unit_price": ["Does not match the live price."]},
                ),
            ),
            "order_refused": _ex(
                "Shipping without coordinates",
                _error(
                    "order_refused",
                    "Shipping needs an address with its coordinates.",
                    {"latitude": ["This field is required."], "longitude": ["This field is required."]},
                ),
            ),
        },
        409: _conflict(
            "no_fulfilment_location",
            "No store or warehouse can fulfil every line",
            "No store within reach and no warehouse has every line in stock.",
        ),
    },
    "orders_pay_create": {
        400: {
            "tender_refused": _ex(
                "More stored value than the wallet holds",
                _error(
                    "tender_refused",
                    "The wallet holds 120.00; 200.00 cannot be spent.",
                    {"stored_value": ["More than the balance."]},
                ),
            ),
        },
        409: _conflict(
            "payment_refused",
            "The amount is not the order's total",
            "Order 2611225E0D0F8CA0 totals 2999.00; a payment of 2000.00 does not settle it.",
            {"amount": ["Must equal the order total."]},
        ),
    },
    "orders_cancel_create": {409: ILLEGAL_TRANSITION},
    "quote_create": {
        400: {
            "coupon_refused": _ex(
                "A coupon whose minimum spend the basket does not reach",
                _error(
                    "coupon_refused",
                    "Coupon K7QX3M9PZT2A needs 1000.00 of eligible goods; this basket has 899.00.",
                    {"coupons": ["Minimum spend not reached."]},
                ),
            ),
            "tender_refused": _ex(
                "More points than the cap allows",
                _error(
                    "tender_refused",
                    "Points may pay at most 1499.50 of this order (50.00%), that is 149950 points.",
                    {"points": ["Above the cap."]},
                ),
            ),
            "wrong_channel": _ex(
                "A channel's key quoting for another channel",
                _error(
                    "wrong_channel",
                    "This API key places orders on its own channel only.",
                    {"channel": ["Not this key's channel."]},
                ),
            ),
        },
    },
    "members_wallet_top_ups_create": {
        400: {
            "tender_refused": _ex(
                "Topping up with stored value or points",
                _error(
                    "tender_refused",
                    "A top-up is paid by cash, card, WeChat Pay or Alipay; not by the wallet or points.",
                    {"method": ["Not a way to top up."]},
                ),
            ),
        },
        409: _conflict(
            "idempotency_conflict",
            "The client reference was used for another top-up",
            "Client reference topup-88231-0001 was already used for a different request.",
            {"client_reference": ["Already used."]},
        ),
    },
    "members_points_redeem_create": {
        409: _conflict(
            "insufficient_points",
            "More points than the balance",
            "Member has 80 points; 100 cannot be taken.",
            {"points": ["More than the balance."]},
        ),
    },
    "members_upsert_create": {
        400: {
            "invalid_phone": _ex(
                "Not a mainland mobile number",
                _error(
                    "invalid_phone",
                    "1234 is not a mainland China mobile number (11 digits starting with 13-19).",
                    {"phone": ["Not a valid mainland mobile number."]},
                ),
            )
        },
    },
    "prices_create": {
        403: {
            "key_forbidden": _ex(
                "A key setting another channel's price",
                _error(
                    "key_forbidden",
                    "This API key may set prices only on its own channel.",
                    {"channel": ["Not this key's channel."]},
                ),
            )
        },
    },
    "tickets_create": {
        400: {
            "not_eligible": _ex(
                "Outside the policy's windows",
                _error(
                    "not_eligible",
                    "Delivered 40 days ago: a return was allowed until day 15.",
                    {"kind": ["Not allowed for this line any more."]},
                ),
            )
        },
    },
    "guides_scans_create": {
        400: {
            "invalid_phone": _ex(
                "Not a mainland mobile number",
                _error(
                    "invalid_phone",
                    "1234 is not a mainland China mobile number (11 digits starting with 13-19).",
                    {"phone": ["Not a valid mainland mobile number."]},
                ),
            )
        },
    },
    "api_keys_list": {403: KEYS_ARE_FOR_HQ},
    "api_keys_retrieve": {403: KEYS_ARE_FOR_HQ},
    "api_keys_revoke_create": {403: KEYS_ARE_FOR_HQ},
    "api_keys_create": {
        403: KEYS_ARE_FOR_HQ,
        400: {
            "api_key_refused": _ex(
                "A partner key asking for a write scope it cannot hold",
                _error(
                    "api_key_refused",
                    "A partner's key cannot hold orders:write, members:write or prices:write.",
                    {"scopes": ["Not for a partner's key."]},
                ),
            )
        },
    },
}

# Request bodies (JSON) of the main integrator operations.
REQUESTS = {
    "orders_create": {
        "ship": _ex(
            "Home delivery of one TV, the member found or registered by phone",
            {
                "channel": "mall",
                "lines": [{"sku": "TV-55", "quantity": 1, "unit_price": "2999.00"}],
                "delivery_method": "ship",
                "member_phone": "13800138000",
                "recipient_name": "Li Lei",
                "recipient_phone": "13800138000",
                "address": "1 Chang'an Avenue, Dongcheng",
                "city": "Beijing",
                "latitude": "39.905098",
                "longitude": "116.407400",
            },
        ),
        "pickup": _ex(
            "Two lines, picked up at store A",
            {
                "channel": "mall",
                "lines": [{"sku": "TV-55", "quantity": 1}, {"sku": "PHONE-1", "quantity": 2}],
                "delivery_method": "pickup",
                "pickup_store": "A",
                "member_phone": "13800138000",
            },
        ),
    },
    "orders_pay_create": {
        "alipay": _ex(
            "The order's total, paid by Alipay",
            {"amount": "2999.00", "method": "alipay", "external_reference": "2026112222001488"},
        ),
        "tenders": _ex(
            "1,000 points and 200.00 of stored value, the rest by card",
            {
                "points": 1000,
                "stored_value": "200.00",
                "amount": "2789.00",
                "method": "card",
                "external_reference": "POS-A-20261122-0042",
            },
        ),
    },
    "orders_cancel_create": {
        "cancel": _ex("Cancelled before shipping", {"reason": "Customer changed their mind"}),
    },
    "quote_create": {
        "basket": _ex(
            "A member's basket with a coupon, 1,000 points and 200.00 of stored value",
            {
                "channel": "mall",
                "member": 1,
                "lines": [{"sku": "TV-55", "quantity": 1}, {"sku": "PHONE-1", "quantity": 1}],
                "coupons": ["K7QX3M9PZT2A"],
                "points": 1000,
                "stored_value": "200.00",
            },
        ),
        "guest": _ex(
            "Prices only, no member", {"channel": "mall", "lines": [{"sku": "TV-55", "quantity": 2}]}
        ),
    },
    "members_wallet_top_ups_create": {
        "counter": _ex(
            "200 yuan paid by WeChat Pay at the counter",
            {
                "amount": "200.00",
                "method": "wechat",
                "reference": "A-20261122-0042",
                "client_reference": "topup-88231-0001",
            },
        ),
    },
    "members_upsert_create": {
        "tmall": _ex(
            "Find or create the member behind a Tmall buyer",
            {
                "phone": "139 1234 5678",
                "source": "tmall",
                "external_id": "tb_88231",
                "name": "Wang Fang",
                "city": "Beijing",
                "home_store": "A",
            },
        ),
    },
    "members_points_earn_create": {
        "earn": _ex(
            "Points for a paid order",
            {
                "channel": "mall",
                "paid_amount": "299.00",
                "reference": "TM-20261122-0001",
                "client_reference": "earn-TM-20261122-0001",
            },
        ),
    },
    "members_points_redeem_create": {
        "redeem": _ex(
            "Spend 100 points",
            {
                "points": 100,
                "channel": "mall",
                "reference": "TM-20261122-0002",
                "client_reference": "redeem-TM-20261122-0002",
            },
        ),
    },
    "tickets_create": {
        "repair": _ex(
            "A repair of a delivered TV, handed in at store A",
            {
                "order": "261122BB6E0F9FD7",
                "sku": "TV-55",
                "kind": "repair",
                "fault": True,
                "description": "No picture after power-on.",
                "intake_store": "A",
            },
        ),
    },
    "prices_create": {
        "promotion": _ex(
            "A promotional price on the key's channel for twelve days",
            {
                "sku": "TV-55",
                "channel": "mall",
                "amount": "2799.00",
                "valid_from": "2026-12-01T00:00:00+08:00",
                "valid_to": "2026-12-13T00:00:00+08:00",
            },
        ),
    },
    "guides_scans_create": {
        "scan": _ex("A customer scanned the guide's QR code", {"phone": "13912345678", "name": "Wang Fang"}),
    },
    "api_keys_create": {
        "channel": _ex(
            "A key for the Tmall flagship store's integration",
            {
                "name": "Tmall flagship",
                "channel": "mall",
                "scopes": ["orders:read", "orders:write", "members:write"],
                "expires_at": "2027-12-31T23:59:59+08:00",
            },
        ),
    },
}

LINE = {
    "id": 1,
    "sku": 1,
    "sku_code": "TV-55",
    "sku_name": '55" 4K TV, black',
    "quantity": 1,
    "unit_price": "2999.00",
    "discount": "0.00",
    "line_total": "2999.00",
    "discounts": [],
}
ROUTED = {
    "attempt": 1,
    "location": STORE_A,
    "reason": "Nearest store with every line in stock, 0.1 km away (within its 10 km radius)",
    "candidates": [{"store": "A", "distance_km": 0.1, "preferred": False, "radius_km": 10}],
    "decided_at": "2026-11-22T12:15:49.856444+08:00",
}
ORDER_CREATED = {
    "number": "2611225E0D0F8CA0",
    "channel": "mall",
    "member": 1,
    "origin": "online",
    "origin_store": None,
    "fulfilling_location": STORE_A,
    "delivery_method": "ship",
    "status": "created",
    "subtotal": "2999.00",
    "discount_total": "0.00",
    "total": "2999.00",
    "external_reference": None,
    "lines": [LINE],
    "created_at": "2026-11-22T12:15:49.852544+08:00",
    "paid_at": None,
    "routing_decisions": [ROUTED],
}
PAYMENT = {
    "id": 1,
    "kind": "payment",
    "method": "alipay",
    "amount": "2999.00",
    "points": None,
    "external_reference": "2026112222001488",
    "reverses": None,
    "created_by": None,
    "created_at": "2026-11-22T12:15:49.878798+08:00",
}
ORDER_PAID = {
    **ORDER_CREATED,
    "status": "allocated",
    "paid_at": "2026-11-22T12:15:49.879010+08:00",
    "placed_by": None,
    "recipient_name": "Li Lei",
    "recipient_phone": "13800138000",
    "address": "1 Chang'an Avenue, Dongcheng",
    "city": "Beijing",
    "latitude": "39.905098",
    "longitude": "116.407400",
    "tracking_number": "",
    "pickup_code": None,
    "payments": [PAYMENT],
    "tenders": [
        {
            "method": "alipay",
            "paid": "2999.00",
            "refunded": "0.00",
            "points_paid": None,
            "points_refunded": None,
        }
    ],
    "status_history": [
        {
            "from_status": None,
            "to_status": "created",
            "reason": "",
            "changed_by": None,
            "changed_at": "2026-11-22T12:15:49.855313+08:00",
        },
        {
            "from_status": "created",
            "to_status": "paid",
            "reason": "",
            "changed_by": None,
            "changed_at": "2026-11-22T12:15:49.879482+08:00",
        },
        {
            "from_status": "paid",
            "to_status": "allocated",
            "reason": "Offered to Wangfujing flagship",
            "changed_by": None,
            "changed_at": "2026-11-22T12:15:49.884420+08:00",
        },
    ],
    "assignment": {
        "id": 1,
        "store": STORE_A,
        "status": "offered",
        "offered_at": "2026-11-22T12:15:49.883706+08:00",
        "respond_by": "2026-11-22T12:45:49.883469+08:00",
        "responded_at": None,
        "responded_by": None,
        "reason": "",
    },
    "revenue_shares": [
        {
            "id": 1,
            "line": 1,
            "party": "fulfilling_store",
            "store": 1,
            "store_code": "A",
            "amount": "239.92",
            "reverses": None,
            "created_at": "2026-11-22T12:15:49.881688+08:00",
        },
        {
            "id": 2,
            "line": 1,
            "party": "brand",
            "store": None,
            "store_code": None,
            "amount": "2759.08",
            "reverses": None,
            "created_at": "2026-11-22T12:15:49.881701+08:00",
        },
    ],
    "updated_at": "2026-11-22T12:15:49.884056+08:00",
}
ORDER_CANCELLED = {
    **ORDER_PAID,
    "number": "2611220433A81BB1",
    "delivery_method": "pickup",
    "status": "cancelled",
    "lines": [{**LINE, "id": 2}],
    "paid_at": None,
    "recipient_name": "",
    "recipient_phone": "",
    "address": "",
    "city": "",
    "latitude": None,
    "longitude": None,
    "payments": [],
    "tenders": [],
    "status_history": [
        {
            "from_status": None,
            "to_status": "created",
            "reason": "",
            "changed_by": None,
            "changed_at": "2026-11-22T12:15:49.911146+08:00",
        },
        {
            "from_status": "created",
            "to_status": "cancelled",
            "reason": "Customer changed their mind",
            "changed_by": None,
            "changed_at": "2026-11-22T12:15:49.928451+08:00",
        },
    ],
    "routing_decisions": [
        {
            "attempt": 1,
            "location": STORE_A,
            "reason": "Picked up at the store the customer chose",
            "candidates": [],
            "decided_at": "2026-11-22T12:15:49.911407+08:00",
        }
    ],
    "assignment": None,
    "revenue_shares": [],
    "updated_at": "2026-11-22T12:15:49.928143+08:00",
}
MEMBER = {
    "id": 2,
    "phone": "13912345678",
    "name": "Wang Fang",
    "city": "Beijing",
    "tier_name": None,
    "gender": "",
    "birthday": None,
    "home_store": 1,
    "home_store_code": "A",
    "home_store_name": "Wangfujing flagship",
    "marketing_consent": False,
    "consent_changed_at": None,
    "consent_channel": None,
    "points_balance": 0,
    "total_spend": "0.00",
    "last_purchase_at": None,
    "identities": [
        {"source": "tmall", "external_id": "tb_88231", "created_at": "2026-11-22T12:15:49.944506+08:00"}
    ],
    "created_at": "2026-11-22T12:15:49.944135+08:00",
}
EARNED = {
    "id": 7,
    "member": 2,
    "kind": "earn",
    "points": 299,
    "channel": "mall",
    "paid_amount": "299.00",
    "reference": "TM-20261122-0001",
    "client_reference": "earn-TM-20261122-0001",
    "reverses": None,
    "expires_at": "2028-11-22T12:20:03.112043+08:00",
    "reason": "",
    "created_by": None,
    "created_at": "2026-11-22T12:20:03.112043+08:00",
}
REDEEMED = {
    **EARNED,
    "id": 8,
    "kind": "redeem",
    "points": -100,
    "paid_amount": None,
    "reference": "TM-20261122-0002",
    "client_reference": "redeem-TM-20261122-0002",
    "expires_at": None,
    "created_at": "2026-11-22T12:31:40.500112+08:00",
}
TICKET = {
    "number": "2611220B33A337D7",
    "kind": "repair",
    "status": "opened",
    "fault": True,
    "quantity": 1,
    "order": "261122BB6E0F9FD7",
    "line": 3,
    "sku": "TV-55",
    "serial": None,
    "channel": "mall",
    "opened_via": "api",
    "intake_store": STORE_A,
    "handling_store": None,
    "opened_at": "2026-11-22T12:15:50.025348+08:00",
    "updated_at": "2026-11-22T12:15:50.025363+08:00",
    "closed_at": None,
    "description": "No picture after power-on.",
    "customer_phone": "13700001111",
    "policy": "brand-promise",
    "eligibility": (
        "Delivery day (day 0): return allowed until day 15; exchange or repair allowed until day 30; "
        "repair under the 12-month warranty allowed until 2027-11-22 (day 365)."
    ),
    "refused_reason": "",
    "repair_note": "",
    "refund_amount": None,
    "replacement_order": None,
    "photos": 0,
    "steps": [
        {
            "from_status": None,
            "to_status": "opened",
            "store": "A",
            "note": "Opened through the API.",
            "changed_by": None,
            "changed_at": "2026-11-22T12:15:50.025910+08:00",
        }
    ],
}
STATEMENT = {
    "id": 12,
    "party": "guide",
    "guide": "G7KQ2M",
    "partner": None,
    "period": "2026-10-01",
    "status": "approved",
    "total": "1286.50",
    "entry_count": 23,
    "created_at": "2026-11-01T02:00:04.201331+08:00",
    "approved_at": "2026-11-03T10:12:45.090211+08:00",
    "approved_by": "finance.zhao",
    "paid_at": None,
    "paid_by": None,
    "payment_reference": "",
}

QUOTE_DISCOUNT_PROMOTION = {
    "source": "promotion",
    "label": "Double 12: 300 off 3000",
    "promotion": "d12-3000-300",
    "coupon_code": None,
    "threshold": "3000.00",
}
QUOTE_DISCOUNT_COUPON = {
    "source": "coupon",
    "label": "Welcome 50",
    "promotion": None,
    "coupon_code": "K7QX3M9PZT2A",
    "threshold": "1000.00",
}
QUOTE = {
    "channel": "mall",
    "member": 1,
    "lines": [
        {
            "sku": "TV-55",
            "sku_name": '55" 4K TV, black',
            "quantity": 1,
            "unit_price": "2999.00",
            "gross": "2999.00",
            "discounts": [
                {**QUOTE_DISCOUNT_PROMOTION, "amount": "180.01"},
                {**QUOTE_DISCOUNT_COUPON, "amount": "30.00"},
            ],
            "discount": "210.01",
            "net": "2788.99",
        },
        {
            "sku": "PHONE-1",
            "sku_name": "Phone 1, 256 GB",
            "quantity": 1,
            "unit_price": "1999.00",
            "gross": "1999.00",
            "discounts": [
                {**QUOTE_DISCOUNT_PROMOTION, "amount": "119.99"},
                {**QUOTE_DISCOUNT_COUPON, "amount": "20.00"},
            ],
            "discount": "139.99",
            "net": "1859.01",
        },
    ],
    "applied": [
        {
            "source": "promotion",
            "name": "Double 12: 300 off 3000",
            "amount": "300.00",
            "promotion": "d12-3000-300",
            "coupon_code": None,
        },
        {
            "source": "coupon",
            "name": "Welcome 50",
            "amount": "50.00",
            "promotion": None,
            "coupon_code": "K7QX3M9PZT2A",
        },
    ],
    "subtotal": "4998.00",
    "discount_total": "350.00",
    "total": "4648.00",
    "tenders": [
        {"method": "points", "amount": "10.00", "points": 1000},
        {"method": "stored_value", "amount": "200.00", "points": None},
        {"method": "external", "amount": "4438.00", "points": None},
    ],
    "points_cap": {
        "points_per_yuan": 100,
        "cap_percent": "50.00",
        "max_amount": "2324.00",
        "max_points": 3598,
        "balance": 3598,
    },
    "wallet_balance": "500.00",
}
COUPON_CODE = {
    "code": "K7QX3M9PZT2A",
    "coupon": "welcome-50",
    "coupon_name": "Welcome 50",
    "kind": "amount",
    "value": "50.00",
    "min_spend": "1000.00",
    "valid_from": "2026-12-01T00:00:00+08:00",
    "valid_to": "2026-12-31T00:00:00+08:00",
    "status": "held",
    "issued_via": "campaign",
    "issued_at": "2026-11-30T10:00:02.114503+08:00",
    "redeemed_at": None,
}
TOP_UP = {
    "id": 41,
    "kind": "top_up",
    "amount": "200.00",
    "method": "wechat",
    "order_number": "",
    "reference": "A-20261122-0042",
    "client_reference": "topup-88231-0001",
    "created_at": "2026-11-22T15:02:41.338120+08:00",
}
WALLET_SPEND = {
    "id": 38,
    "kind": "spend",
    "amount": "-200.00",
    "method": "",
    "order_number": "2611205A77C1D0E2",
    "reference": "",
    "client_reference": None,
    "created_at": "2026-11-20T19:44:05.902411+08:00",
}

# Response bodies of the main integrator operations, by operationId and status.
RESPONSES = {
    "orders_create": {201: {"created": _ex("Created and routed to the nearest store", ORDER_CREATED)}},
    "orders_pay_create": {
        201: {
            "paid": _ex(
                "Paid; offered to the fulfilling store",
                {"payment": PAYMENT, "tenders": [PAYMENT], "order": ORDER_PAID},
            )
        },
        200: {
            "replayed": _ex(
                "The same external_reference again: the first payment",
                {"payment": PAYMENT, "tenders": [PAYMENT], "order": ORDER_PAID},
            )
        },
    },
    "quote_create": {
        200: {
            "quote": _ex(
                "A promotion and a coupon allocated to the lines; points, stored value and the rest",
                QUOTE,
            )
        }
    },
    "members_coupons_list": {
        200: {
            "codes": _ex(
                "The member's codes, newest first",
                {
                    "count": 2,
                    "next": None,
                    "previous": None,
                    "results": [
                        COUPON_CODE,
                        {
                            **COUPON_CODE,
                            "code": "3HWN8RTE5CQY",
                            "coupon": "store-a-opening",
                            "coupon_name": "Store A opening: 10% off",
                            "kind": "percent",
                            "value": "10.00",
                            "min_spend": "0.00",
                            "valid_from": "2026-11-01T00:00:00+08:00",
                            "valid_to": None,
                            "status": "redeemed",
                            "issued_via": "store_qr",
                            "issued_at": "2026-11-02T14:21:40.551002+08:00",
                            "redeemed_at": "2026-11-20T19:44:05.880231+08:00",
                        },
                    ],
                },
            )
        }
    },
    "members_wallet_retrieve": {
        200: {
            "wallet": _ex(
                "Balances and the newest stored-value entries",
                {
                    "member": 1,
                    "points_balance": 3598,
                    "stored_value": "500.00",
                    "entries": [TOP_UP, WALLET_SPEND],
                },
            )
        }
    },
    "members_wallet_top_ups_create": {
        201: {
            "topped_up": _ex(
                "Stored value added", {"entry": TOP_UP, "stored_value": "500.00", "replayed": False}
            )
        },
        200: {
            "replayed": _ex(
                "The same client_reference again: the first top-up",
                {"entry": TOP_UP, "stored_value": "500.00", "replayed": True},
            )
        },
    },
    "orders_cancel_create": {200: {"cancelled": _ex("Cancelled", ORDER_CANCELLED)}},
    "orders_retrieve": {200: {"order": _ex("A paid order waiting for its store", ORDER_PAID)}},
    "members_upsert_create": {
        201: {"created": _ex("A new member", MEMBER)},
        200: {
            "found": _ex(
                "The phone's member, found (identity added)",
                {**MEMBER, "points_balance": 1240, "total_spend": "5398.00"},
            )
        },
    },
    "members_points_earn_create": {
        201: {"earned": _ex("Points written", {"entry": EARNED, "balance": 299, "replayed": False})},
        200: {
            "replayed": _ex(
                "The same client_reference again", {"entry": EARNED, "balance": 299, "replayed": True}
            ),
            "no_rule": _ex(
                "The channel's rule gives no points", {"entry": None, "balance": 0, "replayed": False}
            ),
        },
    },
    "members_points_redeem_create": {
        201: {"redeemed": _ex("Points spent", {"entry": REDEEMED, "balance": 199, "replayed": False})},
        200: {
            "replayed": _ex(
                "The same client_reference again", {"entry": REDEEMED, "balance": 199, "replayed": True}
            )
        },
    },
    "members_points_retrieve": {
        200: {
            "ledger": _ex(
                "Balance and ledger, newest first",
                {"balance": 199, "count": 2, "next": None, "previous": None, "results": [REDEEMED, EARNED]},
            )
        }
    },
    "tickets_create": {201: {"opened": _ex("Opened; the policy's answer in `eligibility`", TICKET)}},
    "prices_create": {
        201: {
            "set": _ex(
                "The channel's price for the period",
                {
                    "id": 3,
                    "sku": 1,
                    "sku_code": "TV-55",
                    "channel": 1,
                    "channel_code": "mall",
                    "scope": "channel",
                    "amount": "2799.00",
                    "currency": "CNY",
                    "valid_from": "2026-12-01T00:00:00+08:00",
                    "valid_to": "2026-12-13T00:00:00+08:00",
                    "created_by": None,
                    "created_at": "2026-11-22T12:15:49.968432+08:00",
                },
            )
        }
    },
    "guides_scans_create": {
        201: {
            "bound": _ex(
                "A new fan: bound to the guide until the window's end",
                {
                    "scan": 1,
                    "outcome": "bound",
                    "binding": 1,
                    "member": 2,
                    "guide": "G7KQ2M",
                    "started_at": "2026-11-22T12:15:49.979101+08:00",
                    "last_scan_at": "2026-11-22T12:15:49.979101+08:00",
                    "ends_at": "2026-12-07T00:00:00+08:00",
                    "scan_count": 1,
                },
            )
        }
    },
    "statements_list": {
        200: {
            "statements": _ex(
                "Monthly statements, newest first",
                {
                    "count": 2,
                    "next": None,
                    "previous": None,
                    "results": [
                        STATEMENT,
                        {
                            **STATEMENT,
                            "id": 9,
                            "period": "2026-09-01",
                            "status": "paid",
                            "total": "980.00",
                            "entry_count": 17,
                            "created_at": "2026-10-01T02:00:03.877120+08:00",
                            "approved_at": "2026-10-03T09:40:12.311024+08:00",
                            "paid_at": "2026-10-10T15:02:19.412300+08:00",
                            "paid_by": "finance.zhao",
                            "payment_reference": "BANK-20261010-3391",
                        },
                    ],
                },
            )
        }
    },
    "api_keys_create": {
        201: {
            "created": _ex(
                "The whole key, shown this once",
                {
                    "id": 4,
                    "name": "Tmall flagship",
                    "prefix": "676d1086",
                    "channel": "mall",
                    "partner": None,
                    "scopes": ["members:write", "orders:read", "orders:write"],
                    "expires_at": "2027-12-31T23:59:59+08:00",
                    "last_used_at": None,
                    "revoked_at": None,
                    "created_at": "2026-11-22T12:15:50.037138+08:00",
                    "key": "676d1086.Xq3vT9kLmW2pR8sY4nB6cD1fG7hJ0aZe",
                },
            )
        }
    },
}

# The operations whose request and response bodies must carry examples (tests/contract).
MAIN_OPERATIONS = sorted(REQUESTS)


def _first_required_field(operation: dict, components: dict) -> str | None:
    """The first required property of the operation's JSON request body, for a realistic 400."""
    schema = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        schema = components.get(ref.rsplit("/", 1)[-1], {})
    required = schema.get("required") or []
    return required[0] if required else None


def _shape(path: str) -> str:
    """A path with its parameters unnamed: the generator renames `{pk}` to `{id}` after listing."""
    return re.sub(r"\{\w+\}", "{}", path)


def _scope_of(callback, method: str) -> str | None | bool:
    """The scope a key needs for this operation; None when no scope opens it to keys, False when
    the view does not check scopes at all (people-only views such as /api-keys/)."""
    cls = getattr(callback, "cls", None)
    if cls is not None and not any(
        isinstance(p, type) and issubclass(p, KeyScopes) for p in getattr(cls, "permission_classes", [])
    ):
        return False
    action = (getattr(callback, "actions", None) or {}).get(method.lower())
    scope = (getattr(cls, "key_scopes", None) or {}).get(action)
    return str(scope) if scope else None


def _shared(status: int, *, path: str, method: str, field: str | None, scope: str | None | bool) -> dict:
    if status == 400:
        if method == "get":
            return {"invalid": BAD_FILTER}
        examples = {}
        if field:
            examples["invalid"] = _ex(
                "A required field left out",
                _error("invalid", "The request is not valid.", {field: ["This field is required."]}),
            )
        examples["invalid_idempotency_key"] = BAD_IDEMPOTENCY_KEY
        return examples
    if status == 401:
        return UNAUTHENTICATED
    if status == 403:
        if scope is False:  # people only: the view does not consult scopes
            key_refused = {}
        elif scope:
            key_refused = {
                "scope_missing": _ex(
                    "An API key without the scope",
                    _error("scope_missing", f"This API key does not have the scope “{scope}”."),
                )
            }
        else:
            key_refused = {
                "scope_missing": _ex(
                    "Closed to API keys (no scope opens it)",
                    _error("scope_missing", "This API key does not have the scope this request needs."),
                )
            }
        return {
            **key_refused,
            "not_authenticated": _ex(
                "No key and no session",
                _error("not_authenticated", "Authentication credentials were not provided."),
            ),
            "permission_denied": _ex(
                "Signed in without the role",
                _error("permission_denied", "You do not have permission to perform this action."),
            ),
        }
    if status == 404:
        return {"not_found": NOT_FOUND_DETAIL if "{" in path else NOT_FOUND_PAGE}
    if status == 409:
        return IDEMPOTENCY_CONFLICTS if method == "post" else {}
    if status == 429:
        return THROTTLED
    return {}


def openapi_examples_hook(result, generator, request, public, **kwargs):
    """drf-spectacular postprocessing hook: error examples on every operation, request and response
    examples on the main ones (see the module docstring). Runs after the idempotency hook, so the
    400/409 it adds get examples too."""
    components = (result.get("components") or {}).get("schemas") or {}
    callbacks = {
        (_shape(path), method.lower()): callback
        for path, _regex, method, callback in getattr(generator, "endpoints", None) or []
    }
    for path, item in (result.get("paths") or {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            op_id = operation["operationId"]
            field = _first_required_field(operation, components)
            scope = _scope_of(callbacks.get((_shape(path), method)), method)
            for code, response in (operation.get("responses") or {}).items():
                media = (response.get("content") or {}).get(JSON)
                if media is None:
                    continue
                status = int(code)
                if status >= 400:
                    examples = {
                        **OPERATION_ERRORS.get(op_id, {}).get(status, {}),
                        **_shared(status, path=path, method=method, field=field, scope=scope),
                    }
                    if examples:
                        media["examples"] = deepcopy(examples)
                    if status == 429:
                        response.setdefault("headers", {})["Retry-After"] = {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before trying again.",
                        }
                elif status in RESPONSES.get(op_id, {}):
                    media["examples"] = deepcopy(RESPONSES[op_id][status])
            body = (operation.get("requestBody") or {}).get("content", {}).get(JSON)
            if body is not None and op_id in REQUESTS:
                body["examples"] = deepcopy(REQUESTS[op_id])
    return result
