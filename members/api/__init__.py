"""REST API of members: lookup/upsert by identity, points, merges and segments (/api/v1/)."""
