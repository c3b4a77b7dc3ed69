"""The empirical null: seeded permutations that keep activity and popularity, break co-timing.

Within each hour, the objects are shuffled among all actions of the kind (seeded): every account
keeps its exact timestamps (volume, rhythm, bursts) and every object keeps its popularity hour by
hour, while who acted on what within the hour becomes chance, which is the analytic model's
null. (Shuffling each account's own timestamps within a day, the obvious alternative, leaves an
account with one post a day unchanged.) On each permuted copy the whole test runs again, which
gives

- a calibration check of the analytic model (:mod:`swarmscope.detection.significance`): the share
  of testable pairs with p <= ``alpha_pair`` and the number of accounts that would be flagged,
  where chance alone acts (nominal: ``alpha_pair`` and none);
- an empirical p-value per tested pair, (1 + #{permutations with x >= the observed x}) / (B + 1).

A permutation p-value cannot be smaller than 1/(B + 1), so across millions of tested pairs it
cannot pass Benjamini–Hochberg on its own: it serves to check the analytic model and, on small
data, as a second opinion on each edge (``p_perm`` in the edges).

The shuffle draws from :meth:`~swarmscope.store.dialect.Dialect.seeded_hash`, not from an
engine's hash function, so a seed gives the same permutation on every engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable

from swarmscope.detection.fuse import fuse_accounts
from swarmscope.detection.significance import reset_tests, run_pair_tests
from swarmscope.engine import Engine
from swarmscope.store.backend import Backend
from swarmscope.traces import build_traces, replace_traces, reset_traces

if TYPE_CHECKING:
    from swarmscope.pipeline import DetectParams


def permutation_check(db: Backend, params: DetectParams, engine: Engine,
                      since: datetime | None, until: datetime | None,
                      progress: Callable[[str], None]) -> list[dict]:
    """Run every test on ``params.permutations`` permuted copies; keeps each copy's candidate
    counts in the temp table ``perm_x`` and returns one calibration row per copy and test."""
    db.execute("CREATE OR REPLACE TEMP TABLE perm_x (kind VARCHAR, window_s DOUBLE, "
               "perm INTEGER, a INTEGER, b INTEGER, x BIGINT)")
    rows = []
    alpha = params.null.alpha_pair
    for perm in range(params.permutations):
        reset_tests(db, "_perm")
        for kind, windows in params.windows.items():
            progress(f"permutation {perm + 1}: {kind}")
            build_traces(db, kind, params.traces, since, until)
            permute_traces(db, kind, params.seed + perm)
            for window in windows:
                run_pair_tests(db, engine, kind, window, params.null,
                               rows_per_part=params.rows_per_part, suffix="_perm")
                db.execute("INSERT INTO perm_x SELECT ?, ?, ?, a, b, x FROM pair_tests_perm "
                           "WHERE kind = ? AND window_s = ?", [kind, window, perm, kind, window])
                pairs, significant = db.query(f"""
                    SELECT (SELECT sum(partners) / 2 FROM account_tests_perm
                            WHERE kind = ? AND window_s = ?),
                           (SELECT count(*) FROM pair_tests_perm WHERE kind = ? AND window_s = ?
                            AND p <= {alpha})""", [kind, window, kind, window])[0]
                pairs = int(pairs or 0)
                rows.append({"permutation": perm, "kind": kind, "window_s": window,
                             "testable_pairs": pairs, "pairs_at_alpha": significant,
                             "share_at_alpha": significant / pairs if pairs else None})
        fuse_accounts(db, params.tests, list(params.windows), alpha, params.fdr, suffix="_perm")
        flagged = db.scalar("SELECT count(*) FILTER (WHERE flagged) FROM account_scores_perm")
        rows.append({"permutation": perm, "kind": "all", "accounts_flagged": flagged})
    reset_traces(db)
    return rows


def empirical_p(db: Backend, permutations: int) -> None:
    """The temp table ``pair_permutation_p(kind, window_s, a, b, p_perm)``: per tested pair
    (1 + #{copies with x >= observed x}) / (B + 1)."""
    db.materialise("pair_permutation_p", f"""
        SELECT t.kind, t.window_s, t.a, t.b,
               (1 + count(q.x)) / {permutations + 1} AS p_perm
        FROM pair_tests t LEFT JOIN perm_x q ON q.kind = t.kind AND q.window_s = t.window_s
             AND q.a = t.a AND q.b = t.b AND q.x >= t.x
        GROUP BY t.kind, t.window_s, t.a, t.b""")


def permute_traces(db: Backend, kind: str, seed: int, block_ms: int = 3_600_000) -> None:
    """Permute the ``kind`` rows of ``traces``: within each hour, the objects are shuffled
    among the actions (seeded; see the module doc). Actions are numbered in a fixed order
    (time, account, post, object), and each draws the object of the action whose seeded hash
    ranks the same within the hour."""
    kind_sql = kind.replace("'", "''")
    draw = db.dialect.seeded_hash(["i", "blk"], seed)
    blk = db.dialect.int_div("ts", str(block_ms))
    db.materialise("permuted_traces", f"""
        WITH t AS (SELECT account, object, post, ts, {blk} AS blk,
                          row_number() OVER (PARTITION BY {blk}
                                             ORDER BY ts, account, post, object) AS i
                   FROM traces WHERE kind = '{kind_sql}'),
        drawn AS (SELECT object, blk, row_number() OVER (PARTITION BY blk
                      ORDER BY {draw}, i) AS i FROM t)
        SELECT t.account, drawn.object, t.post, t.ts FROM t JOIN drawn USING (blk, i)""")
    replace_traces(db, kind, "SELECT * FROM permuted_traces")
    db.drop("permuted_traces")
