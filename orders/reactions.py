"""What the apps above orders do when an order moves: the hooks orders call and guides and
after-sales fill in.

Guides and after-sales react to orders (docs/architecture.md, "Layers"), so they import orders and
orders import neither: orders name each hook here and call it at its point in the order's
transaction (orders.services), and the app that owns the reaction registers its function from its
AppConfig.ready() (guides/apps.py, aftersales/apps.py). Each hook below is called with exactly the
arguments its registered function takes; with nothing registered it does nothing and answers None.

    attribution_read(batch, *, member, channel, at)   order intake, queued on the order's
        config.sql.Batch with its other reads (one round trip): a config.sql.Pending whose
        `value`, once the batch ran, has the attributed guide, binding and reason (guides)
    commission_accrue(*, order, lines, at)            an attributed order is paid (guides)
    commission_clawback(*, order, refunds, user, reason)
                                                      a paid, attributed order is cancelled (guides)
    lines_delivered(*, lines, delivered_at)           the customer has the goods: the warranty
                                                      and return windows start (after-sales)
"""

from collections.abc import Callable

HOOKS = ("attribution_read", "commission_accrue", "commission_clawback", "lines_delivered")

_registered: dict[str, Callable] = {}


def register(**hooks: Callable) -> None:
    """Fill in hooks by name, from an app's ready(). Registering the same function again is
    harmless; a second, different function for a hook is refused (one app owns each reaction)."""
    for name, function in hooks.items():
        if name not in HOOKS:
            raise TypeError(f"orders.reactions has no hook {name!r}; it has {', '.join(HOOKS)}.")
        if _registered.get(name, function) != function:
            raise ValueError(f"orders.reactions.{name} is already registered ({_registered[name]!r}).")
    _registered.update(hooks)


def attribution_read(batch, *, member, channel, at):
    hook = _registered.get("attribution_read")
    return hook(batch, member=member, channel=channel, at=at) if hook is not None else None


def commission_accrue(*, order, lines, at):
    hook = _registered.get("commission_accrue")
    return hook(order=order, lines=lines, at=at) if hook is not None else None


def commission_clawback(*, order, refunds, user=None, reason=""):
    hook = _registered.get("commission_clawback")
    return hook(order=order, refunds=refunds, user=user, reason=reason) if hook is not None else None


def lines_delivered(*, lines, delivered_at):
    hook = _registered.get("lines_delivered")
    return hook(lines=lines, delivered_at=delivered_at) if hook is not None else None
