"""coordinationz 0.2.2 as a peer of the IRA-in-Higgs protocol (the protocol's side).

The store's posts and entities are written as the CSV that coordinationz's
``loadPreprocessedData`` reads; ``cz_run.py`` runs each method in coordinationz's own
environment (``coordinationz_env.sh``), one measured child per method (wall seconds; peak memory:
the larger of the child's own ``VmHWM`` and its process tree's PSS sampled every 0.1 s, not
``ru_maxrss``, which a child inherits from this large parent); its output pairs become account
scores as for the other peers: flagged = in an output pair, score = its best edge value there
(0 elsewhere).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common import REPO, TreeMemory, attached, mib, run_measured

DEFAULT_PYTHON = REPO / ".venv-coordinationz" / "bin" / "python"
RUNNER = Path(__file__).resolve().parent / "cz_run.py"
SKIP = ("peer coordinationz skipped: no coordinationz environment; make it with "
        "`bash bench/peers/coordinationz_env.sh` (creates .venv-coordinationz from PyPI) or "
        "give --coordinationz-python")

_HOW = ("coordinationz 0.2.2 (PyPI) in its own environment, the upstream pipeline's steps with "
        "the library's functions (bench/peers/cz_run.py), on the store's posts and entities "
        "written as its loader's CSV (retweet object = the store's repost object); users need "
        ">= 10 activities and >= 10 distinct items per indicator; time is ignored (one bag of "
        "items per user for the week); no null-model realizations (the templates' "
        "realizations = 0: nothing is drawn at random; its p-value variant draws from an "
        "unseeded numpy SeedSequence and is not run). Score = the account's best edge value "
        "among the output pairs, 0 for the others (most accounts tie at 0: precision at k is "
        "tie-averaged).")
_WORD = ("; co-word uses offline stand-ins: a blank English spaCy pipeline with a lookup "
         "lemmatizer in place of en_core_web_lg, spaCy's English stop words in place of NLTK's")
#: peer name -> (cz_run method, rule); text similarity is absent: it embeds texts with a
#: sentence-transformers model fetched from a model hub at run time, which cannot run offline
PEERS = {
    "coordinationz_union": ("union", "config_template_union.toml: co-retweet, co-hashtag, co-URL "
                            "and co-word networks, each cut at its similarity threshold (0.80; "
                            "co-word 0.85), merged by max similarity" + _WORD),
    "coordinationz_softunion": ("softunion", "config_template_softunion.toml: the same four "
                                "networks (similarity >= 0.5), merged quantiles "
                                "1 - prod(1 - q), pairs with merged quantile > 0.99" + _WORD),
    "coordinationz_coretweet": ("coretweet", "co-retweet network alone (union settings: "
                                "similarity > 0.80)"),
    "coordinationz_cohashtag": ("cohashtag", "co-hashtag network alone (similarity > 0.80; "
                                "retweets left out)"),
    "coordinationz_courl": ("courl", "co-URL network alone (similarity > 0.80; retweets left "
                            "out)"),
    "coordinationz_coword": ("coword", "co-word network alone (similarity > 0.85; retweets left "
                             "out)" + _WORD),
}
SPECS = {name: {"rule": rule, "how": _HOW} for name, (_, rule) in PEERS.items()}


def python(arg: str | None) -> Path | None:
    """The environment's interpreter: ``arg``, else ``.venv-coordinationz`` where it exists."""
    p = Path(arg) if arg else DEFAULT_PYTHON
    if not p.exists():
        if arg:
            raise SystemExit(f"--coordinationz-python {arg}: no such file")
        return None
    return p


def write_posts_csv(ana, db: Path, out: Path) -> dict[str, int]:
    """The store's posts as coordinationz's preprocessed CSV: every field quoted, backslash
    escapes, list columns as literals (JSON lists, which ``ast.literal_eval`` reads). Likes
    have no coordinationz type and are left out (counted)."""
    with attached(ana, db):
        ana.execute("""
            CREATE OR REPLACE TEMP TABLE cz_ent AS
            SELECT platform, post_id,
                   to_json(list(value ORDER BY position) FILTER (WHERE kind = 'hashtag'))
                       AS hashtags,
                   to_json(list(value ORDER BY position) FILTER (WHERE kind = 'url')) AS urls,
                   to_json(list(value ORDER BY position) FILTER (WHERE kind = 'mention'))
                       AS mentioned_users
            FROM s.entities WHERE kind IN ('hashtag', 'url', 'mention') GROUP BY ALL""")
        ana.execute(f"""
            COPY (SELECT p.post_id AS tweet_id, p.account_id AS user_id,
                         strftime(p.created_at, '%Y-%m-%d %H:%M:%S') AS created_at,
                         p.text,
                         CASE p.kind WHEN 'post' THEN 'tweet' WHEN 'repost' THEN 'retweet'
                              ELSE p.kind END AS tweet_type,
                         CASE WHEN p.kind = 'repost' THEN o.value ELSE p.parent_post_id END
                             AS linked_tweet,
                         p.parent_account_id AS linked_tweet_user_id,
                         coalesce(e.hashtags, '[]') AS hashtags, coalesce(e.urls, '[]') AS urls,
                         coalesce(e.mentioned_users, '[]') AS mentioned_users
                  FROM s.posts p
                  LEFT JOIN s.object_keys o ON o.object_key = p.parent_key
                  LEFT JOIN cz_ent e ON e.platform = p.platform AND e.post_id = p.post_id
                  WHERE p.kind <> 'like' ORDER BY p.post_key)
            TO '{out}' (HEADER, FORCE_QUOTE *, QUOTE '"', ESCAPE '\\')""")
        counts = ana.execute("SELECT count(*) FILTER (WHERE kind <> 'like'), "
                             "count(*) FILTER (WHERE kind = 'like') FROM s.posts").fetchone()
    ana.execute("DROP TABLE cz_ent")
    return {"rows_written": counts[0], "likes_left_out": counts[1]}


def run_peers(interpreter: Path, ana, db: Path, work: Path, window: str,
              seed: int) -> dict[str, Any]:
    """Every coordinationz method on one scenario; scores into ``ana.scores`` as
    ``peer:NAME``; per method its cost and output counts."""
    work.mkdir(parents=True, exist_ok=True)
    csv = work / "posts.csv"
    out: dict[str, Any] = {"input": write_posts_csv(ana, db, csv)}
    for name, (method, _) in PEERS.items():
        pairs = work / f"{method}_pairs.csv"
        tree = TreeMemory()
        m = run_measured([str(interpreter), str(RUNNER), "run", "--standins",
                          str(interpreter.parent.parent / "standins"), "--csv", str(csv),
                          "--method", method, "--out", str(pairs), "--seed", str(seed)],
                         work, method, sampler=tree)
        cost = {"seconds": round(m.seconds, 1), "peak_mib": mib(tree.pss)}
        if m.rc != 0:
            out[name] = {**cost, "error": f"rc {m.rc}: {m.stderr[-600:]}"}
            continue
        res = json.loads(m.stdout.strip().splitlines()[-1])
        cost["peak_mib"] = max(cost["peak_mib"], mib(res.pop("vm_hwm_kib")))
        load_pairs(ana, pairs, f"peer:{name}", window)
        out[name] = {**cost, **res}
    return out


def load_pairs(ana, pairs: Path, method: str, window: str) -> None:
    """Output pairs -> ``ana.scores``: each account's best edge value, rounded to 1e-9 (its
    similarities differ by ~1e-16 from run to run, the order of a sum, which would break the
    ties at 1.0 otherwise)."""
    ana.execute(f"""
        INSERT INTO scores
        WITH e AS (SELECT * FROM read_csv('{pairs}', header = true, columns = {{
                       'account_a': 'VARCHAR', 'account_b': 'VARCHAR', 'value': 'DOUBLE'}}))
        SELECT ?, ?, account_id, round(max(v), 9), true, NULL
        FROM (SELECT account_a AS account_id, value AS v FROM e
              UNION ALL SELECT account_b, value FROM e)
        GROUP BY account_id""", [method, window])
