"""REST API of orders: idempotent intake, scoped lists and details, and the order's actions (/api/v1/)."""
