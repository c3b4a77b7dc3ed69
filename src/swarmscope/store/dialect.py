"""The SQL text that differs between engines, in the manner of splink's ``SplinkDialect``.

Why a small dialect class and not one dialect transpiled with sqlglot (splink does both): the
stages' SQL is standard enough that few functions differ (epoch milliseconds, arg-min, a table
of integer offsets), and those few are written here once per engine where a reviewer can see
them; transpiling every statement would add a dependency and hide the differences. Randomness
never comes from an engine's hash function (DuckDB's ``hash`` and Spark's ``hash`` differ):
:meth:`Dialect.seeded_hash` is integer arithmetic that every engine evaluates alike, so a seed
gives the same permutation on every engine.
"""

from __future__ import annotations

#: A prime below 2³¹: products of two residues stay within a signed 64-bit integer.
_PRIME = 2_147_483_629
_MULTIPLIERS = (1_103_515_245, 1_664_525, 22_695_477)
_SQUARE_ADD = 1_013_904_223


class Dialect:
    """The base: the SQL every engine shares; engines override what differs."""

    name = "base"

    def epoch_ms(self, ts: str) -> str:
        """Milliseconds since 1970 of a TIMESTAMP expression, as BIGINT."""
        raise NotImplementedError(f"dialect {self.name!r} has no epoch_ms")

    def from_epoch_ms(self, ms: str) -> str:
        """A TIMESTAMP from milliseconds since 1970."""
        raise NotImplementedError(f"dialect {self.name!r} has no from_epoch_ms")

    def arg_min(self, value: str, by: str, *ties: str) -> str:
        """The ``value`` of the row with the smallest ``by`` in a group, ties broken by the
        smallest ``ties`` in turn (without ties that make the row unique, the pick among equal
        ``by`` is arbitrary, and changes with the threads)."""
        raise NotImplementedError(f"dialect {self.name!r} has no arg_min")

    def sorted_sum(self, expr: str) -> str:
        """The sum of a DOUBLE expression over a group, added in ascending order: the same
        bits whatever order the rows reach the aggregate in (a parallel hash aggregate adds
        them in an order that changes from run to run)."""
        raise NotImplementedError(f"dialect {self.name!r} has no sorted_sum")

    def offsets(self, low: int, high: int, alias: str, column: str) -> str:
        """A FROM-clause item: the integers ``low``..``high`` as ``alias(column)``."""
        raise NotImplementedError(f"dialect {self.name!r} has no offsets")

    def int_div(self, a: str, b: str) -> str:
        """Integer division of two integer expressions, truncated toward zero."""
        raise NotImplementedError(f"dialect {self.name!r} has no int_div")

    def regexp_replace_all(self, text: str, pattern: str, replacement: str) -> str:
        """Every match of the regular expression ``pattern`` (an SQL string literal) replaced."""
        raise NotImplementedError(f"dialect {self.name!r} has no regexp_replace_all")

    def string_agg_ordered(self, value: str, sep: str, order: str, *,
                           distinct: bool = False) -> str:
        """The group's values joined by ``sep`` (a literal) in the order of ``order``."""
        raise NotImplementedError(f"dialect {self.name!r} has no string_agg_ordered")

    def struct(self, **fields: str) -> str:
        """A struct (a row) of named fields from expressions."""
        raise NotImplementedError(f"dialect {self.name!r} has no struct")

    def ordered_list(self, value: str, rank: str, where: str = "true") -> str:
        """The values of the group's rows that meet ``where`` as a list in the order of
        ``rank`` (unique within the group); NULL when no row does."""
        raise NotImplementedError(f"dialect {self.name!r} has no ordered_list")

    def first_distinct(self, expr: str, limit: int) -> str:
        """An aggregate: the group's ``limit`` smallest distinct non-NULL values of ``expr``,
        ascending, as an array."""
        raise NotImplementedError(f"dialect {self.name!r} has no first_distinct")

    #: The keyword that makes a CTE be evaluated once (``WITH x AS MATERIALIZED (...)``).
    materialized_cte = ""

    def seeded_hash(self, exprs: list[str], seed: int) -> str:
        """A seeded pseudo-random BIGINT in [0, 2³¹) of non-negative integer expressions:
        each input, mixed with the seed, is squared modulo a prime (the square makes the hash
        non-linear, so orders drawn from it are not rotations of one another), and the squares
        are chained by multiply-adds. Every product stays below 2⁶², so every engine
        evaluates it alike in 64-bit integers."""
        s = int(seed) % _PRIME
        h = f"CAST({s} AS BIGINT)"
        for i, expr in enumerate(exprs):
            a = _MULTIPLIERS[i % len(_MULTIPLIERS)]
            u = f"((CAST({expr} AS BIGINT) % {_PRIME}) * {a} + {s}) % {_PRIME}"
            h = f"(({h}) * {_MULTIPLIERS[0]} + ({u}) * ({u}) % {_PRIME} + {_SQUARE_ADD}) % {_PRIME}"
        return f"(({h}) * {_MULTIPLIERS[1]} + 7) % {_PRIME}"


class DuckDBDialect(Dialect):
    name = "duckdb"

    def epoch_ms(self, ts: str) -> str:   # truncated, as Spark's unix_millis (epoch_ms rounds)
        return f"(epoch_us({ts}) // 1000)"

    def from_epoch_ms(self, ms: str) -> str:
        return f"make_timestamp(({ms}) * 1000)"

    def arg_min(self, value: str, by: str, *ties: str) -> str:
        return f"arg_min({value}, ({', '.join((by, *ties))}))"  # (p) is p; (p, k) a row

    def sorted_sum(self, expr: str) -> str:
        # what sum(x ORDER BY x) gives, at the cost of a plain sum where groups are small
        return f"list_sum(list_sort(list({expr})))"

    def offsets(self, low: int, high: int, alias: str, column: str) -> str:
        return f"range({int(low)}, {int(high) + 1}) {alias}({column})"

    def int_div(self, a: str, b: str) -> str:
        return f"(({a}) // ({b}))"

    def regexp_replace_all(self, text: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({text}, {pattern}, {replacement}, 'g')"

    def string_agg_ordered(self, value: str, sep: str, order: str, *,
                           distinct: bool = False) -> str:
        return f"string_agg({'DISTINCT ' if distinct else ''}{value}, {sep} ORDER BY {order})"

    def struct(self, **fields: str) -> str:
        return f"struct_pack({', '.join(f'{k} := {v}' for k, v in fields.items())})"

    def ordered_list(self, value: str, rank: str, where: str = "true") -> str:
        return f"list({value} ORDER BY {rank}) FILTER (WHERE {where})"

    def first_distinct(self, expr: str, limit: int) -> str:
        return f"list_sort(list_distinct(list({expr})))[1:{int(limit)}]"

    materialized_cte = "MATERIALIZED"


class SparkDialect(Dialect):
    """Spark SQL (4.x): the Spark backend's (:mod:`swarmscope.store.spark`)."""

    name = "spark"

    def epoch_ms(self, ts: str) -> str:
        return f"unix_millis({ts})"

    def from_epoch_ms(self, ms: str) -> str:
        return f"timestamp_millis({ms})"

    def arg_min(self, value: str, by: str, *ties: str) -> str:
        key = f"struct({', '.join((by, *ties))})" if ties else by   # structs order field by field
        return f"min_by({value}, {key})"

    def sorted_sum(self, expr: str) -> str:
        return (f"aggregate(array_sort(collect_list(CAST({expr} AS DOUBLE))), CAST(0 AS DOUBLE), "
                "(total, x) -> total + x)")

    def offsets(self, low: int, high: int, alias: str, column: str) -> str:
        return f"(SELECT id AS {column} FROM range({int(low)}, {int(high) + 1})) {alias}"

    def int_div(self, a: str, b: str) -> str:
        return f"(({a}) div ({b}))"

    def regexp_replace_all(self, text: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({text}, {pattern}, {replacement})"

    def string_agg_ordered(self, value: str, sep: str, order: str, *,
                           distinct: bool = False) -> str:
        return (f"string_agg({'DISTINCT ' if distinct else ''}{value}, {sep}) "
                f"WITHIN GROUP (ORDER BY {order})")

    def struct(self, **fields: str) -> str:
        pairs = ", ".join(f"'{k}', {v}" for k, v in fields.items())
        return f"named_struct({pairs})"

    def ordered_list(self, value: str, rank: str, where: str = "true") -> str:
        # structs sort field by field: by the rank, which is unique, and so never by the value;
        # collect_list of no rows is an empty array, not NULL
        return (f"CASE WHEN count(*) FILTER (WHERE {where}) > 0 THEN transform(array_sort("
                f"collect_list(struct({rank} AS k, {value} AS v)) FILTER (WHERE {where})), "
                "s -> s.v) END")

    def first_distinct(self, expr: str, limit: int) -> str:
        return f"slice(array_sort(collect_set({expr})), 1, {int(limit)})"
