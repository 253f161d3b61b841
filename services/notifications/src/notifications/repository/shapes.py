"""Statements whose SQL text does not depend on how many values they carry.

Every distinct SQL text the service sends is prepared on its connection and kept there (up to
100 per pooled connection in the driver, and a copy in the server's backend): a statement
whose text grows with its input (`IN (...)` with a parameter per value, a multi-row VALUES)
is one more prepared statement per size seen, prepared again whenever an older size was
evicted, and the process kept growing with every batch size it met. The hot paths
therefore send arrays: one statement, one parameter per column, for any number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    Table,
    TextClause,
    any_,
    bindparam,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def one_of(column: SQLColumnExpression[str], values: Collection[str]) -> ColumnElement[bool]:
    """`column = ANY(:array)`: the same statement for any number of values."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(String)))


def _array_element(table: Table, column: str) -> str:
    """The type a column's values travel as. Strings (and JSON, as its text) as unbounded
    `text`: an explicit cast to VARCHAR(n) would cut a value that is too long without a word,
    where the INSERT's own assignment to the column refuses it, as it always did."""
    kind = table.c[column].type
    if isinstance(kind, String | JSONB):
        return "text"
    return str(kind.compile(dialect=_DIALECT))


class ColumnsInsert:
    """`INSERT INTO table (columns) SELECT ... FROM unnest(:column arrays)` plus a suffix
    (ON CONFLICT, RETURNING); JSONB values travel as their JSON text."""

    def __init__(self, table: Table, columns: Sequence[str], suffix: str = "") -> None:
        self.columns = tuple(columns)
        self._json = frozenset(c for c in self.columns if isinstance(table.c[c].type, JSONB))
        arrays = ", ".join(f"CAST(:{c} AS {_array_element(table, c)}[])" for c in self.columns)
        values = ", ".join(
            f"CAST(u.{c} AS jsonb)" if c in self._json else f"u.{c}" for c in self.columns
        )
        names = ", ".join(self.columns)
        self.statement: TextClause = text(
            f'INSERT INTO "{table.schema}"."{table.name}" ({names}) '  # noqa: S608 - our metadata
            f"SELECT {values} FROM unnest({arrays}) AS u({names}) {suffix}"
        )

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """The rows as one list per column; a row with other keys than the columns is refused
        (a missing value must not become NULL silently, nor an extra one be dropped)."""
        expected = set(self.columns)
        for row in rows:
            if row.keys() != expected:
                wrong = sorted(set(row) ^ expected)
                raise ValueError(f"row columns differ from {self.columns}: {wrong}")
        columns = {c: [row[c] for row in rows] for c in self.columns}
        for c in self._json:
            columns[c] = [json.dumps(value) for value in columns[c]]
        return columns
