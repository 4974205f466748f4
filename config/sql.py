"""Reads and writes on hot paths without the ORM's per-call query building: INSERTs of model rows
whose SQL is built once per model and row count, several statements sent in one round trip, and
model rows read from plain SQL.

The ORM spends more Python on building an INSERT than PostgreSQL spends running it; on order intake
that was a fifth of a request. These helpers take the same model instances (fields' `pre_save` and
`get_db_prep_save` give the values, as `save()` would), so the columns stay the model's own.
"""

from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Field, Model
from psycopg.pq import ExecStatus


@lru_cache(maxsize=1024)
def _insert_sql(model: type[Model], rows: int, alias: str = DEFAULT_DB_ALIAS) -> tuple[str, tuple]:
    connection = connections[alias]
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if f is not meta.pk or f.has_default())
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 (model names)
        f"VALUES {', '.join([one] * rows)} RETURNING {connection.ops.quote_name(meta.pk.column)}"
    )
    return sql, fields


class Batch:
    """Statements sent to the database together: one round trip on PostgreSQL (several statements
    in one text, which Django's client-side binding allows), one each elsewhere.

    `rows(objs)` queues an INSERT of model instances (one model per call) and sets their primary
    keys when the batch runs; `sql(statement, params)` queues any statement and `run()` returns the
    rows each statement answered, in order; `read(statement, params, parse)` queues a read whose
    answer, `parse(rows)`, is the returned Pending's `value` once the batch ran (so reads of several
    apps share one round trip)."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS):
        self._statements: list[tuple[str, list, list | None]] = []
        self._refusals: list[tuple[int, object]] = []
        self._reads: list[tuple[int, object, Pending]] = []
        # The connection itself, not django.db.connection's per-thread proxy (a lookup per use). The
        # database the caller's transaction writes to: a batch's reads must see its own writes, so
        # they never go to a replica (`using` names another).
        self._connection = connections[using]

    def rows(self, objs: list[Model]) -> "Batch":
        """Queue an INSERT of `objs`; rows of the model the statement before inserts join its
        INSERT (one statement fewer for the database to parse, plan and run)."""
        if objs:
            model = type(objs[0])
            connection = self._connection
            fields = _insert_sql(model, 1, connection.alias)[1]
            params = [
                f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objs for f in fields
            ]
            last = self._statements[-1] if self._statements else None
            if last is not None and last[2] and type(last[2][0]) is model:
                objs, params = [*last[2], *objs], [*last[1], *params]
                self._statements.pop()
            self._statements.append((_insert_sql(model, len(objs), connection.alias)[0], params, objs))
        return self

    def sql(self, statement: str, params: list, refuse=None) -> "Batch":
        """Queue a statement. With `refuse` (a callable answering an exception), a statement that
        answers no row (a conditional UPDATE that did not match) raises it once the batch ran."""
        self._statements.append((statement, params, None))
        if refuse is not None:
            self._refusals.append((len(self._statements) - 1, refuse))
        return self

    def read(self, statement: str, params: list, parse) -> "Pending":
        """Queue a read; its `parse(rows)` is the answer's `value` after `run()`."""
        pending = Pending()
        self._statements.append((statement, params, None))
        self._reads.append((len(self._statements) - 1, parse, pending))
        return pending

    def __len__(self) -> int:
        return len(self._statements)

    def extend(self, other: "Batch") -> "Batch":
        """Queue `other`'s statements (and their refusals) after ours; `other` is left empty."""
        offset = len(self._statements)
        self._statements.extend(other._statements)
        self._refusals.extend((index + offset, refuse) for index, refuse in other._refusals)
        self._reads.extend((index + offset, parse, pending) for index, parse, pending in other._reads)
        other._statements, other._refusals, other._reads = [], [], []
        return self

    def run(self) -> list[list[tuple]]:
        connection = self._connection
        answers = []
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql" and len(self._statements) > 1:
                # Each statement merged with its values on its own (psycopg caches the parsing of a
                # statement, not of a string over 4 KB or 50 values), then sent as one text.
                raw = cursor.cursor
                cursor.execute(";\n".join(raw.mogrify(sql, params) for sql, params, _o in self._statements))
                for index in range(len(self._statements)):
                    if index:
                        raw.nextset()
                    # The result's status, not `description`, which builds a column object per column
                    # on every look (a third of the Python a wide read costs here).
                    answers.append(raw.fetchall() if raw.pgresult.status == ExecStatus.TUPLES_OK else [])
            else:
                for sql, params, _objs in self._statements:
                    cursor.execute(sql, params)
                    answers.append(cursor.fetchall() if cursor.description else [])
        for (_sql, _params, objs), rows in zip(self._statements, answers, strict=True):
            for obj, row in zip(objs, rows, strict=True) if objs is not None else ():
                obj.pk = row[0]
                obj._state.adding = False
                obj._state.db = connection.alias
        self._statements = []
        refusals, self._refusals = self._refusals, []
        reads, self._reads = self._reads, []
        for index, refuse in refusals:
            if not answers[index]:
                raise refuse()
        for index, parse, pending in reads:
            pending.value = parse(answers[index])
        return answers


class Pending:
    """The answer of a read queued on a Batch: `value`, once the batch ran."""

    __slots__ = ("value",)

    @classmethod
    def of(cls, value) -> "Pending":
        """An answer known without reading (nothing to ask the database)."""
        pending = cls()
        pending.value = value
        return pending

    def __repr__(self) -> str:
        return f"Pending({getattr(self, 'value', '<not run>')!r})"


@lru_cache(maxsize=256)
def _field_order(model: type[Model], columns: tuple[str, ...]) -> tuple[int, ...]:
    """Where each concrete field's value is in a row of `columns`."""
    at = {name: index for index, name in enumerate(columns)}
    return tuple(at[field.column] for field in model._meta.concrete_fields)


def fetch(model: type[Model], sql: str, params: list) -> list[Model]:
    """Rows of `model` from a plain `SELECT *` (or every column), as the ORM builds them; what
    RawQuerySet works out on every call is worked out once per model and column list here."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = tuple(column[0] for column in cursor.description)
        rows = cursor.fetchall()
    order = _field_order(model, columns)
    return [from_row(model, [row[index] for index in order]) for row in rows]


@lru_cache(maxsize=1024)
def _converters(field: Field, alias: str) -> tuple:
    """The column expression and the converters the ORM applies to `field` read from `alias`."""
    connection = connections[alias]
    column = field.get_col(field.model._meta.db_table)
    return column, tuple(connection.ops.get_db_converters(column) + field.get_db_converters(connection))


def from_db_value(field: Field, value):
    """One column's value as the database gave it, as the ORM would give it."""
    connection = connections[DEFAULT_DB_ALIAS]
    column, converters = _converters(field, connection.alias)
    for convert in converters:
        value = convert(value, column, connection)
    return value


@lru_cache(maxsize=256)
def _field_converters(model: type[Model], alias: str) -> tuple:
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column, converters = _converters(field, alias)
        if converters:
            found.append((index, column, converters))
    return tuple(found), tuple(f.attname for f in model._meta.concrete_fields)


@lru_cache(maxsize=256)
def _columns_of(model: type[Model], table_alias: str, alias: str) -> str:
    quote = connections[alias].ops.quote_name
    return ", ".join(f"{table_alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def columns_of(model: type[Model], table_alias: str) -> str:
    """`alias."col", ...` for every concrete field of `model`, in field order (for `from_row`)."""
    return _columns_of(model, table_alias, DEFAULT_DB_ALIAS)


@lru_cache(maxsize=1024)
def _names(model: type[Model], fields: tuple[str, ...], alias: str) -> tuple[str, ...]:
    ops = connections[alias].ops
    meta = model._meta
    return (ops.quote_name(meta.db_table), *(ops.quote_name(meta.get_field(f).column) for f in fields))


def names(model: type[Model], *fields: str, write: bool = False) -> tuple[str, ...]:
    """The quoted table name of `model` and the quoted columns of `fields`, as the connection the
    router picks (for writing with `write`) spells them: the plain statements of the apps' sql.py
    name tables and columns from the models' _meta, so a rename fails at once, not in production."""
    alias = router.db_for_write(model) if write else router.db_for_read(model)
    return _names(model, fields, alias)


def from_row(model: type[Model], values) -> Model:
    """A `model` instance from its concrete columns in field order, as the database gave them
    (a slice of a joined row), through the converters the ORM applies."""
    connection = connections[DEFAULT_DB_ALIAS]
    converters, names = _field_converters(model, connection.alias)
    values = list(values)
    for index, column, functions in converters:
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, names, values)


def databases_answer() -> None:
    """Ask every configured database for `SELECT 1` (the health check): raises if one does not
    answer. Every one, not just the default: a replica that serves reads is as needed as the
    primary."""
    for connection in connections.all():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
