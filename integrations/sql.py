"""Plain statements every API request makes: the API key's row (authentication), and the stored
answer of a request sent with an Idempotency-Key. Building them with the ORM was a fifth of an
order's Python time (docs/benchmarks.md, "Flash sale"). Table and column names come from the models'
_meta, the connection from the database router."""

from functools import lru_cache

from django.db import connections, router

from config.sql import names
from integrations.models import ApiKey, IdempotentRequest

# The columns of an API key's state, in the order key_state answers them.
KEY_STATE = ("id", "hashed_key", "channel", "partner", "scopes", "expires_at", "revoked_at", "last_used_at")


def key_state(prefix: str) -> tuple | None:
    """The key's state as the database holds it, one value per KEY_STATE column (scopes as text,
    the datetimes as the database gives them: compare them, or read them with `from_db_value`);
    None for no key with this prefix. Read where keys are written, never from a replica: a key
    revoked a moment ago is refused at once."""
    statement, params = key_state_statement(prefix)
    with connections[router.db_for_write(ApiKey)].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def key_state_statement(prefix: str) -> tuple[str, list]:
    """key_state's statement and parameters."""
    return _key_state_sql(router.db_for_write(ApiKey)), [prefix]


@lru_cache(maxsize=8)
def _key_state_sql(alias: str) -> str:
    # `alias` keys the cache: the text is built once per database.
    table, pk, hashed, channel, partner, scopes, expires, revoked, last_used, key_prefix = names(
        ApiKey, *KEY_STATE, "prefix"
    )
    return (
        f"SELECT {pk}, {hashed}, {channel}, {partner}, CAST({scopes} AS TEXT), {expires}, "  # noqa: S608 (model names)
        f"{revoked}, {last_used} FROM {table} WHERE {key_prefix} = %s"
    )


def answer_store(*, pk: int, status_code: int, body: bytes, headers: dict) -> None:
    """Store the answer on a claimed request's row (the same UPDATE as .filter(pk=...).update(...)),
    unless an answer is stored already: every API POST with a key runs it."""
    statement, params = answer_store_statement(pk=pk, status_code=status_code, body=body, headers=headers)
    with connections[router.db_for_write(IdempotentRequest)].cursor() as cursor:
        cursor.execute(statement, params)


def answer_store_statement(*, pk: int, status_code: int, body: bytes, headers: dict) -> tuple[str, list]:
    """answer_store's statement and parameters (the body and headers prepared as the fields save them)."""
    connection = connections[router.db_for_write(IdempotentRequest)]
    meta = IdempotentRequest._meta
    table, status, response_body, response_headers, key = names(
        IdempotentRequest, "status_code", "response_body", "response_headers", "id", write=True
    )
    return (
        f"UPDATE {table} SET {status} = %s, {response_body} = %s, {response_headers} = %s "  # noqa: S608 (model names)
        f"WHERE {key} = %s AND {status} IS NULL",
        [
            status_code,
            meta.get_field("response_body").get_db_prep_save(body, connection),
            meta.get_field("response_headers").get_db_prep_save(headers, connection),
            pk,
        ],
    )
