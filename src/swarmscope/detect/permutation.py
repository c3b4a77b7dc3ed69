"""The empirical null: seeded permutations that keep activity and popularity, break co-timing.

Within each hour, the objects are shuffled among all actions of the kind (seeded): every account
keeps its exact timestamps (volume, rhythm, bursts) and every object keeps its popularity hour by
hour, while who acted on what within the hour becomes chance, which is the analytic model's
null. (Shuffling each account's own timestamps within a day, the obvious alternative, leaves an
account with one post a day unchanged.) On each permuted copy the whole test runs again, which
gives

- a calibration check of the analytic model (:mod:`swarmscope.detect.significance`): the share
  of testable pairs with p <= ``alpha_pair`` and the number of accounts that would be flagged,
  where chance alone acts (nominal: ``alpha_pair`` and none);
- an empirical p-value per tested pair, (1 + #{permutations with x >= the observed x}) / (B + 1).

A permutation p-value cannot be smaller than 1/(B + 1), so across millions of tested pairs it
cannot pass Benjamini–Hochberg on its own: it serves to check the analytic model and, on small
data, as a second opinion on each edge (``p_perm`` in the edges).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable

import duckdb

from swarmscope.detect.fuse import fuse_accounts
from swarmscope.detect.significance import pair_tests
from swarmscope.engine import PairParams
from swarmscope.traces import build_traces

if TYPE_CHECKING:
    from swarmscope.detect import DetectParams


def permutation_check(con: duckdb.DuckDBPyConnection, params: DetectParams, engine,
                      since: datetime | None, until: datetime | None,
                      progress: Callable[[str], None]) -> list[dict]:
    """Run every test on ``params.permutations`` permuted copies; keeps each copy's candidate
    counts in the temp table ``perm_x`` and returns one calibration row per copy and test."""
    con.execute("CREATE OR REPLACE TEMP TABLE perm_x (kind VARCHAR, window_s DOUBLE, "
                "perm INTEGER, a INTEGER, b INTEGER, x BIGINT)")
    rows = []
    alpha = params.null.alpha_pair
    for perm in range(params.permutations):
        con.execute("DROP TABLE IF EXISTS pair_tests_perm; DROP TABLE IF EXISTS account_tests_perm")
        for kind, windows in params.windows.items():
            progress(f"permutation {perm + 1}: {kind}")
            build_traces(con, kind, params.traces, since, until)
            permute_traces(con, kind, params.seed + perm)
            for window in windows:
                engine.candidates(PairParams(kind=kind, window=window, evidence=0), 0)
                pair_tests(con, kind, window, params.null, suffix="_perm")
                con.execute("INSERT INTO perm_x SELECT ?, ?, ?, a, b, x FROM cand WHERE x >= 2",
                            [kind, window, perm])
                pairs, significant = con.execute(f"""
                    SELECT (SELECT count(*) FROM cand),
                           (SELECT count(*) FROM pair_tests_perm WHERE kind = ? AND window_s = ?
                            AND p <= {alpha})""", [kind, window]).fetchall()[0]
                rows.append({"permutation": perm, "kind": kind, "window_s": window,
                             "testable_pairs": pairs, "pairs_at_alpha": significant,
                             "share_at_alpha": significant / pairs if pairs else None})
        fuse_accounts(con, params.tests, list(params.windows), alpha, params.fdr, suffix="_perm")
        flagged = con.execute("SELECT count(*) FILTER (WHERE flagged) FROM account_scores_perm"
                              ).fetchall()[0][0]
        rows.append({"permutation": perm, "kind": "all", "accounts_flagged": flagged})
    con.execute("DELETE FROM traces")
    return rows


def empirical_p(con: duckdb.DuckDBPyConnection, permutations: int) -> None:
    """Add ``p_perm`` to ``pair_tests``: (1 + #{copies with x >= observed x}) / (B + 1)."""
    con.execute(f"""
        ALTER TABLE pair_tests ADD COLUMN IF NOT EXISTS p_perm DOUBLE;
        UPDATE pair_tests SET p_perm = (1 + coalesce((
            SELECT count(*) FROM perm_x q WHERE q.kind = pair_tests.kind
            AND q.window_s = pair_tests.window_s AND q.a = pair_tests.a AND q.b = pair_tests.b
            AND q.x >= pair_tests.x), 0)) / {permutations + 1}""")


def permute_traces(con: duckdb.DuckDBPyConnection, kind: str, seed: int,
                   block_ms: int = 3_600_000) -> None:
    """Permute the ``kind`` rows of ``traces``: within each hour, the objects are shuffled
    among the actions (seeded; see the module doc)."""
    kind_sql = kind.replace("'", "''")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE permuted AS
        WITH t AS (SELECT rowid AS r, object, ts // {block_ms} AS blk FROM traces
                   WHERE kind = '{kind_sql}'),
        slots AS (SELECT r, blk, row_number() OVER (PARTITION BY blk ORDER BY r) AS i FROM t),
        drawn AS (SELECT object, blk, row_number() OVER (PARTITION BY blk
                      ORDER BY hash(r, {int(seed)}), r) AS i FROM t)
        SELECT slots.r, drawn.object FROM slots JOIN drawn USING (blk, i);
        UPDATE traces SET object = permuted.object FROM permuted WHERE traces.rowid = permuted.r;
        DROP TABLE permuted;""")
