"""REST API of the store network: stores, stock, availability nearby and the stock ledger (/api/v1/)."""
