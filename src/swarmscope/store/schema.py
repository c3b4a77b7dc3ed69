"""Every persistent table of a store: its columns, their documentation, and the upgrades.

One place for the schema: the store creates its tables from it, ``export`` exports the result
tables it lists, and the schema tables of ``docs/store.md`` are generated from it
(``scripts/gen_docs.py``, checked by ``tests/test_docs.py``).

Tables written by ``ingest`` are created with the store (:data:`CANONICAL`); those of ``pairs``
by its first run (:data:`PAIRS`); those of ``detect`` by each run, as ``CREATE TABLE … AS``
(:data:`DETECT`, with the Parquet file ``detect --out`` writes each one to).

Schema versions: 2 kept ``edges`` as a table of account ids; 3 keyed pair edges by account
(``pair_edges``, ``pair_runs``, the view ``edges``); 4 gives every post an explicit integer key
(``posts.post_key``, in place of DuckDB's ``rowid``, which no other engine has); 5 gives
pairs' evidence the platform of both accounts (``evidence.platform_a``, ``platform_b``); 6 keeps every
detect run's tables, each run's in its schema ``run_<id>`` (:mod:`swarmscope.store.runs`); 7
stores evidence by key (``pair_evidence`` behind the view ``evidence``, every run's
``detect_evidence``), resolved when read (:func:`resolved_evidence`). Older stores are read as
they are and upgraded when next opened for writing (:data:`UPGRADES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from swarmscope.store.runs import keep_legacy_results

SCHEMA_VERSION = 7
UPGRADABLE_VERSIONS = (2, 3, 4, 5, 6)


@dataclass(frozen=True)
class Table:
    """A persistent table: ``columns`` maps a column (or a group, ``"a, b"``, or a pattern,
    ``"p_<kind>"``) to its documentation; ``types`` holds the SQL types of tables the store
    creates; ``file`` is the Parquet file ``detect --out`` writes; ``order`` (an ORDER BY
    list) orders a result table's rows totally: ``detect`` stores them, and ``detect --out``
    and ``export`` write them, in that order, whatever the threads."""

    name: str
    doc: str
    columns: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    view: str | None = None
    order: str | None = None
    read: str | None = None
    stored_order: str | None = None

    @property
    def source(self) -> str:
        """What readers select the documented columns from: the table, or for a table stored
        by key (``read``, the SQL that resolves its rows) that query."""
        return f"({self.read}) {self.name}" if self.read else self.name

    def ordered(self, columns: str = "*") -> str:
        """``SELECT columns`` of the table, its rows in its ``order``."""
        return f"SELECT {columns} FROM {self.source} ORDER BY {self.order}"

    def ddl(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` (or the view) for a table the store creates."""
        if self.view:
            return f"CREATE VIEW IF NOT EXISTS {self.name} AS {self.view}"
        cols = ",\n    ".join(f"{c} {t}" for c, t in self.types.items())
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {cols})"


def _table(name: str, doc: str, columns: list[tuple[str, str, str]], **kw) -> Table:
    """A created table from (column, SQL type, documentation) rows."""
    return Table(name, doc, {c: d for c, _, d in columns}, {c: t for c, t, _ in columns}, **kw)


CANONICAL = (
    _table("meta", "the store's own facts: schema_version, created_by", [
        ("key", "VARCHAR PRIMARY KEY", "schema_version | created_by"),
        ("value", "VARCHAR", "its value")]),
    _table("posts", "one row per post, unique on (platform, post_id)", [
        ("platform", "VARCHAR NOT NULL", "twitter, telegram, … (from the reader or --platform)"),
        ("post_id", "VARCHAR NOT NULL", "the platform's id of the post"),
        ("account_id", "VARCHAR NOT NULL", "its author"),
        ("created_at", "TIMESTAMP NOT NULL", "UTC, millisecond precision where the input has it"),
        ("kind", "VARCHAR NOT NULL", "post | repost | reply | quote | like"),
        ("text", "VARCHAR", "the text (a repost's: the reposted text)"),
        ("lang", "VARCHAR", "language code, as the input gives it"),
        ("client", "VARCHAR", "posting application"),
        ("parent_post_id", "VARCHAR", "the post it reposts, replies to, quotes or likes"),
        ("parent_account_id", "VARCHAR", "that post's author"),
        ("quoted_post_id", "VARCHAR", "the quoted post, when any (also for a quoting reply)"),
        ("latitude", "DOUBLE", "geotag"), ("longitude", "DOUBLE", "geotag"),
        ("source_file", "VARCHAR NOT NULL", "the input file"),
        ("source_row", "BIGINT NOT NULL", "1-based record number in source_file"),
        ("run_id", "BIGINT NOT NULL", "the ingest run that stored it"),
        ("account_key", "INTEGER NOT NULL", "the author in account_keys"),
        ("parent_key", "BIGINT", "what it reposts or replies to, in object_keys: the parent "
                                 "post id; for a repost without one 'account:' + the parent's "
                                 "author, else 'text:' + the MD5 of its normalised text"),
        ("post_key", "BIGINT NOT NULL", "the post's integer key, unique in the store, assigned "
                                        "at ingest in input order")]),
    _table("accounts", "one row per account, unique on (platform, account_id)", [
        ("platform", "VARCHAR NOT NULL", "the platform"),
        ("account_id", "VARCHAR NOT NULL", "the platform's id of the account"),
        ("handle", "VARCHAR", "screen name"), ("display_name", "VARCHAR", "display name"),
        ("description", "VARCHAR", "profile description"),
        ("created_at", "TIMESTAMP", "account creation (UTC)"),
        ("followers", "BIGINT", "followers when collected"),
        ("following", "BIGINT", "accounts followed when collected"),
        ("reported_location", "VARCHAR", "the location the profile states"),
        ("run_id", "BIGINT NOT NULL", "the ingest run that stored it")]),
    _table("account_labels", "a label an input carries about an account", [
        ("platform", "VARCHAR NOT NULL", "the account's platform"),
        ("account_id", "VARCHAR NOT NULL", "the account"),
        ("name", "VARCHAR NOT NULL", "e.g. account_category"),
        ("value", "VARCHAR", "the label's value")]),
    _table("post_deletions", "when a post was seen deleted, where the input knows", [
        ("platform", "VARCHAR NOT NULL", "the post's platform"),
        ("post_id", "VARCHAR NOT NULL", "the post"),
        ("deleted_at", "TIMESTAMP NOT NULL", "UTC (from --map deleted_at=...)")]),
    _table("entities", "what a post contains or points at", [
        ("platform", "VARCHAR NOT NULL", "the post's platform"),
        ("post_id", "VARCHAR NOT NULL", "the post"),
        ("kind", "VARCHAR NOT NULL", "hashtag | url | domain | mention | media | object | "
                                     "community (where it was posted: r/name, a group)"),
        ("value", "VARCHAR NOT NULL", "normalised: hashtags case-folded without #, canonical "
                                      "URLs, registered domains, mentions without @"),
        ("position", "INTEGER", "order within the post, from 0"),
        ("value_key", "BIGINT NOT NULL", "the value in object_keys")]),
    _table("account_keys", "the integer key of every account", [
        ("account_key", "INTEGER PRIMARY KEY", "the key"),
        ("platform", "VARCHAR NOT NULL", "the account's platform"),
        ("account_id", "VARCHAR NOT NULL", "the account")]),
    _table("object_keys", "the integer key of every object (entity value, reposted or "
                          "replied-to object)", [
        ("object_key", "BIGINT NOT NULL", "the key (unique, as value)"),
        ("value", "VARCHAR NOT NULL", "the object")]),
    _table("rejects", "every input record that could not be stored", [
        ("run_id", "BIGINT NOT NULL", "the ingest run"),
        ("file", "VARCHAR NOT NULL", "the input file"),
        ("line", "BIGINT", "physical line (CSV, JSON) where the record starts; row (Parquet)"),
        ("field", "VARCHAR", "the field at fault"),
        ("reason", "VARCHAR NOT NULL", "why, and what to do"),
        ("excerpt", "VARCHAR", "the start of the rejected record, for a human")]),
    _table("runs", "every command run on the store", [
        ("run_id", "BIGINT PRIMARY KEY", "the run"),
        ("command", "VARCHAR NOT NULL", "ingest | pairs | detect"),
        ("version", "VARCHAR NOT NULL", "swarmscope's version"),
        ("parameters", "JSON", "every parameter"), ("seed", "BIGINT", "the seed, if any"),
        ("started_at", "TIMESTAMP NOT NULL", "UTC"), ("finished_at", "TIMESTAMP", "UTC"),
        ("status", "VARCHAR NOT NULL", "running | ok | failed (a killed run stays 'running')"),
        ("inputs", "STRUCT(path VARCHAR, sha256 VARCHAR, bytes BIGINT)[]",
         "every input file with its SHA-256 and size"),
        ("summary", "JSON", "what the run produced")]),
)

EDGE_COLUMNS = {
    "run_id": "the run that computed the edge",
    "kind": "trace kind (repost, link, …)",
    "semantics": "sliding | coortweet | timefree",
    "window_s": "the window in seconds (NULL for timefree)",
    "platform_a": "platform of account_a", "account_a": "one account",
    "platform_b": "platform of account_b", "account_b": "the other account (equal for a loop)",
    "weight": "the semantics' weight: sliding max(a_actions, b_actions); coortweet share pairs; "
              "timefree cosine",
    "shared_objects": "distinct objects both acted on (within the window)",
    "events": "co-action events: pairs of actions (one per account) within the window",
    "a_actions": "actions of account_a with a partner action of account_b in the window",
    "b_actions": "actions of account_b with a partner action of account_a in the window",
    "a_first": "events where account_a acted first (leader)",
    "b_first": "events where account_b acted first",
    "mean_dt_s": "mean |Δt| of the events, seconds", "min_dt_s": "smallest |Δt|, seconds",
    "symmetry": "CooRTweet's edge symmetry score: min(a_actions, b_actions) / max(…)",
    "cosine": "TF-IDF cosine of the two accounts' object vectors (timefree, or when asked)",
    "popular_events": "co-action events on popular objects, aggregated without listing pairs",
}


_DETECT_CORE = {
    "detect_accounts": {
        "platform, account_id, handle": "the account",
        "posts": "its posts in the store (within --since/--until)",
        "score": "coordination score in [0, 1]: L / (L + L*), L = -log10 p_value, L* the same "
                 "at the FDR cut-off; 0 without evidence, 0.5 at the cut-off",
        "flagged": "score >= 0.5, i.e. q_value <= the FDR level",
        "cluster_id": "its Leiden cluster, or the cluster it joined by affiliation (NULL when "
                      "in neither)",
        "p_value": "the account test, combined over kinds and windows (Bonferroni minimum)",
        "q_value": "Benjamini-Hochberg q over all accounts with a testable partner",
        "partners": "testable partners (largest over the tests)",
        "significant_partners": "partners with pair p <= alpha_pair (largest over the tests)",
        "p_<kind>, score_<kind>": "the same per kind (its windows combined)",
        "affiliation_p, affiliation_q, affiliation_round": "for an account that joined its "
            "cluster by affiliation: its test against the cluster (Bonferroni over the tests), "
            "BH q, and the round",
        "affiliation_kind, affiliation_window_s, affiliation_x": "the test that gave the "
            "smallest p, and the objects co-acted with the cluster's members there",
    },
    "detect_edges": {
        "platform_a, account_a, platform_b, account_b": "a pair with a test at p <= alpha_pair",
        "p_value": "pair p combined over tests (Bonferroni minimum)",
        "q_value": "BH q over every testable pair of every test",
        "weight": "-log10 of the pair's smallest p", "cluster_id": "shared cluster, if any",
        "p_<kind>, x_<kind>": "smallest pair p and most co-acted objects per kind",
        "p_perm": "with --permutations B: the smallest empirical p over the tests",
    },
    "detect_clusters": {
        "cluster_id, size, edges, density": "the cluster (numbered by size)",
        "first_activity, last_activity, posts": "its members' activity",
        "strongest": "its strongest edges", "edges_<kind>": "its edges bound by each kind",
        "top_hashtags, top_domains, top_texts": "shared by most members (value, members)",
        "assessment": "what its traits say: 'automation' | 'operated' | 'organic-like' | "
                      "'undetermined' (detect_cluster_traits)",
        "evidence_strength": "strength of the evidence of operation, what clusters are "
                             "ordered by (strongest first): -log10 of its strongest passing "
                             "automation or operator trait (Bonferroni, capped at 50) + the "
                             "median score of its edges",
    },
    "detect_cluster_traits": {
        "cluster_id": "the cluster",
        "family": "'automation' | 'operator' | 'organic'",
        "trait": "serial_order, gap_regularity, round_the_clock, repost_only, shared_rhythm, "
                 "identical_texts, one_client, diverse_content, conversations",
        "value": "the measure on the cluster's members",
        "baseline": "the same measure on the reference (random order among the members; every "
                    "eligible account), NULL when none",
        "p_value": "the one-sided test of value against baseline (NULL when no test)",
        "members": "members behind the trait", "accounts": "up to 20 of their account ids",
        "detail": "one plain sentence",
    },
    "detect_evidence": {
        "platform_a, account_a, platform_b, account_b, kind, window_s": "the edge and the test",
        "object, post_a, ts_a, post_b, ts_b, dt_s, text_a, text_b": "one co-action",
        "basis": "'pair' (an edge's test) or 'affiliation' (account_b is a member of "
                 "account_a's cluster)",
    },
}




_DETECT_TEMPORAL = {
    "detect_fingerprints": {
        "platform, account_id, cluster_id, operation_id": "an account with >= 10 posts "
                                                          "(MIN_POSTS), its cluster and operation",
        "posts, first_post, last_post, active_days": "its activity (UTC)",
        "hour_of_week": "168 post counts by UTC hour of the week, Monday 00h first",
        "active_start_utc, active_hours": "the shortest run of hours (wrapping) with 90% of "
                                          "its posts",
        "burstiness": "(sigma - mu) / (sigma + mu) of gaps < 1 day (Goh & Barabasi, EPL 2008): "
                      "-1 periodic, 0 Poisson, -> 1 bursty",
        "memory": "correlation of consecutive gaps (Goh & Barabasi 2008)",
        "gap_entropy": "entropy (bits) of the gaps binned by powers of two seconds",
        "bloc": "BLOC action string (Nwala et al., EPJ Data Sci. 2023): T post, r repost, "
                "p reply, q quote, pauses □ <1 min ⚀ <1 h ⚁ <1 d ⚂ <1 wk ⚃ <1 mo ⚄ <1 y ⚅",
        "bloc_similarity": "mean TF-IDF cosine of its BLOC bigrams to its operation's other "
                           "members",
        "zone_offset, zone_rhythm, zone_fit": "inferred UTC offset (h), the template it fits "
                                              "(office 09-17 / day, sleep 00-07) and the "
                                              "Pearson r of the fit",
        "claimed_location, claimed_offset": "reported location and its UTC offset (built-in "
                                            "place table), when recognised",
        "zone_gap_hours, mismatch_strength, zone_mismatch": "inferred - claimed zone (h, "
            "circular); fit at inferred minus best fit within 1 h of claimed; mismatch = gap "
            ">= 2 h, fit >= 0.5, >= 20 posts",
        "shift_segment": "its operation's shift segment, when it works one",
    },
    "detect_operations": {
        "operation_id, clusters": "an operation: clusters joined by >= 3 edges",
        "members, fingerprinted": "its accounts and those with a fingerprint",
        "zone_offset, zone_rhythm, zone_fit, claimed_offset, zone_gap_hours, mismatch_strength, "
        "zone_mismatch": "as per account, on the rhythm of its best-staffed shift (or the "
                         "whole operation); claimed = the members' most common claimed zone",
        "coverage_hours": "UTC hours in which it posts >= 1/4 of its mean hourly rate",
        "shift_members, shift_segments, shift_structure": "members with a block <= 10 h, their "
            "segments, and whether shifts cover the day (>= 20 h, >= 2 segments)",
        "handoffs, days": "hand-offs between consecutive segments; UTC days with posts",
        "bloc_similarity": "mean pairwise TF-IDF cosine of the members' BLOC bigrams",
    },
    "detect_shifts": {
        "operation_id, segment": "one shift segment",
        "start_utc, end_utc, hours, start_local, end_local": "its block, UTC and in the "
                                                             "operation's inferred zone",
        "members, posts_share": "its workers and their share of the operation's posts",
        "handoffs_in, handoff_gap_min": "days the previous segment handed over to it; median "
                                        "minutes from the last outgoing to the first incoming post",
    },
    "detect_shift_hours": {
        "operation_id, cluster_id, account_id, segment, hour_utc, hour_local, posts":
            "plot-ready: posts per member and hour of day",
    },
}




_SHARES = {
    "flagged_share, clustered_share": "shares of the burst's posts by accounts flagged / in a "
                                      "cluster (NULL without detect_accounts)",
    "flagged_accounts": "its accounts that detect flagged",
    "clusters": "the clusters behind it: [{cluster_id, accounts, posts}], most posts first (top 5)",
    "evidence": "its first 20 posts: [{post_id, account_id, ts}]",
}
_SURGE = {
    "start_time, end_time": "first and last post of the burst",
    "expected": "the object's mean count per bin over the span x the burst's bins (Kleinberg, "
                "KDD 2002: baseline rate)",
    "p_value": "smallest bin p: P(X >= distinct accounts in the bin), X ~ Poisson(rate)",
    "q_value": "Benjamini-Hochberg q over every (object, bin) cell, empty ones as p = 1",
}
_DETECT_SIGNATURES = {
    "detect_profile": {
        "kind": "creation_burst | creation_cluster | display_name | description | client | "
                "handle_pattern",
        "key": "the creation days, the shared name/description, the client, or the pattern "
               "(default: name + 8 digits; name_digits: name + 2-7 digits)",
        "cluster_id": "the detect cluster tested (creation_cluster, client, handle_pattern); "
                      "NULL store-wide",
        "first_time, last_time": "creation_burst: first and last creation time",
        "accounts": "accounts in the finding (cluster members for client/handle_pattern)",
        "observed, expected": "creation_burst: accounts created in the most significant "
                              "window and its expected count (Poisson scan, Kulldorff 1997); "
                              "creation_cluster: members created in its densest window; "
                              "client/handle_pattern: members with it; and members x background "
                              "share (binomial; creation_cluster Bonferroni over its windows)",
        "p_value, q_value": "the test and its BH q (NULL for shared names/descriptions)",
        "automation": "client: a known scheduler or automation tool",
        "account_ids": "the accounts",
    },
    "detect_attacks": {
        "rank": "attackers flagged by detect first, then p_value",
        "target_kind, target": "account (replied to or mentioned) or post (replied to)",
        "attackers, posts": "distinct accounts replying/mentioning in the burst, and their posts",
        **_SURGE, **_SHARES, "attacker_ids": "every attacker",
        "flagged_attacker_share": "flagged_accounts / attackers",
    },
    "detect_trends": {
        "rank": "posts by flagged accounts first (flagged_share x posts), then p_value",
        "kind, value": "hashtag (case-folded) or domain",
        "accounts, posts": "distinct accounts and posts in the burst",
        **_SURGE, **_SHARES,
        "manufactured": "flagged_share >= 0.5 (Elmas et al., EuroS&P 2021; Linvill & Warren 2020)",
    },
    "detect_ephemeral": {
        "rank": "by p_value",
        "object": "* (all ephemeral posts) or hashtag:VALUE",
        "accounts, posts": "distinct accounts and posts deleted within 10 minutes, in the burst",
        **_SURGE, **_SHARES,
        "median_life_s": "median seconds between creation and deletion (Elmas et al., "
                         "'Ephemeral Astroturfing Attacks', EuroS&P 2021)",
    },
}



_EDGE_MEASURES = [
    ("weight", "DOUBLE", EDGE_COLUMNS["weight"]),
    ("shared_objects", "BIGINT", EDGE_COLUMNS["shared_objects"]),
    ("events", "BIGINT", EDGE_COLUMNS["events"]),
    ("a_actions", "BIGINT", EDGE_COLUMNS["a_actions"]),
    ("b_actions", "BIGINT", EDGE_COLUMNS["b_actions"]),
    ("a_first", "BIGINT", EDGE_COLUMNS["a_first"]),
    ("b_first", "BIGINT", EDGE_COLUMNS["b_first"]),
    ("mean_dt_s", "DOUBLE", EDGE_COLUMNS["mean_dt_s"]),
    ("min_dt_s", "DOUBLE", EDGE_COLUMNS["min_dt_s"]),
    ("symmetry", "DOUBLE", EDGE_COLUMNS["symmetry"]),
    ("cosine", "DOUBLE", EDGE_COLUMNS["cosine"]),
    ("popular_events", "BIGINT", EDGE_COLUMNS["popular_events"]),
]

#: How evidence is stored (pairs' and detect's): keys, resolved to ids and texts when read
_EVIDENCE_KEYS = [
    ("account_key_a", "INTEGER", "one account, in account_keys"),
    ("account_key_b", "INTEGER", "the other"),
    ("object_key", "BIGINT", "the object both acted on, in object_keys (NULL for kinds whose "
                             "objects are derived: text, sync, …)"),
    ("object_value", "VARCHAR", "a derived object (NULL where object_key names it)"),
    ("post_key_a", "BIGINT", "account_a's post, in posts"), ("ts_a", "TIMESTAMP", "its time"),
    ("post_key_b", "BIGINT", "account_b's post"), ("ts_b", "TIMESTAMP", "its time"),
    ("dt_s", "DOUBLE", "|ts_b - ts_a| in seconds")]
#: The readable columns of each kind of evidence row, in order.
PAIR_EVIDENCE = ("run_id", "kind", "account_a", "account_b", "object", "post_a", "ts_a", "post_b",
                 "ts_b", "dt_s", "platform_a", "platform_b")
DETECT_EVIDENCE = ("run_id", "platform_a", "account_a", "platform_b", "account_b", "kind",
                   "window_s", "object", "post_a", "ts_a", "post_b", "ts_b", "dt_s", "text_a",
                   "text_b", "basis")
#: A readable evidence column that is resolved from keys: its expression.
_RESOLVED = {"platform_a": "ka.platform", "platform_b": "kb.platform",
             "account_a": "ka.account_id", "account_b": "kb.account_id",
             "object": "coalesce(v.object_value, o.value)", "post_a": "pa.post_id",
             "post_b": "pb.post_id", "text_a": "pa.text", "text_b": "pb.text"}


def resolved_evidence(table: str, columns: tuple[str, ...] = DETECT_EVIDENCE) -> str:
    """SQL: the evidence rows stored by key in ``table`` (``pair_evidence``, ``detect_evidence``)
    with the ids, objects and texts they name, as ``columns``; the one place where stored
    evidence becomes readable (the view ``evidence``, explain, report, export, detect --out).
    Storing keys keeps ``pairs`` and ``detect`` from copying strings that readers rarely need."""
    cols = ", ".join(f"{_RESOLVED.get(c, 'v.' + c)} AS {c}" for c in columns)
    return f"""SELECT {cols} FROM {table} v
JOIN account_keys ka ON ka.account_key = v.account_key_a
JOIN account_keys kb ON kb.account_key = v.account_key_b
LEFT JOIN object_keys o ON o.object_key = v.object_key
JOIN posts pa ON pa.post_key = v.post_key_a JOIN posts pb ON pb.post_key = v.post_key_b"""


PAIRS = (
    _table("pair_runs", "each pairs run's kind, semantics and window", [
        ("run_id", "BIGINT", "the pairs run"), ("kind", "VARCHAR", EDGE_COLUMNS["kind"]),
        ("semantics", "VARCHAR", EDGE_COLUMNS["semantics"]),
        ("window_s", "DOUBLE", EDGE_COLUMNS["window_s"])]),
    _table("pair_edges", "the co-action edges of pairs runs, by account key (read them "
                         "through the view edges)", [
        ("run_id", "BIGINT", "the pairs run"),
        ("account_key_a", "INTEGER", "one account (the smaller key)"),
        ("account_key_b", "INTEGER", "the other"), *_EDGE_MEASURES]),
    Table("edges", "the co-action edges of pairs runs, with account ids (a view)", EDGE_COLUMNS,
          view="""
SELECT run_id, kind, semantics, window_s, ka.platform AS platform_a, ka.account_id AS account_a,
       kb.platform AS platform_b, kb.account_id AS account_b, weight, shared_objects, events,
       a_actions, b_actions, a_first, b_first, mean_dt_s, min_dt_s, symmetry, cosine,
       popular_events
FROM pair_edges JOIN pair_runs USING (run_id)
JOIN account_keys ka ON ka.account_key = account_key_a
JOIN account_keys kb ON kb.account_key = account_key_b""",
          order="run_id, platform_a, account_a, platform_b, account_b"),
    _table("pair_evidence", "co-action events kept as evidence of pairs' edges, by key (read "
                            "them through the view evidence)", [
        ("run_id", "BIGINT", "the pairs run"), ("kind", "VARCHAR", "trace kind"),
        *_EVIDENCE_KEYS]),
    Table("evidence", "co-action events kept as evidence of pairs' edges (closest in time "
                      "first, --evidence per edge; a view)", {
        "run_id": "the pairs run", "kind": "trace kind", "account_a": "one account",
        "account_b": "the other", "object": "the object both acted on",
        "post_a": "account_a's post", "ts_a": "its time", "post_b": "account_b's post",
        "ts_b": "its time", "dt_s": "|ts_b - ts_a| in seconds",
        "platform_a": "account_a's platform", "platform_b": "account_b's platform"},
          view=resolved_evidence("pair_evidence", PAIR_EVIDENCE),
          order="run_id, platform_a, account_a, platform_b, account_b, dt_s, ts_a, post_a, "
                "post_b, object"),
    _table("popular_objects", "objects too popular to list their pairs (aggregated) or left "
                              "out by --max-object-accounts (capped)", [
        ("run_id", "BIGINT", "the pairs run"), ("kind", "VARCHAR", "trace kind"),
        ("object", "VARCHAR", "the object"), ("accounts", "BIGINT", "distinct accounts"),
        ("actions", "BIGINT", "actions on it"),
        ("window_pairs", "HUGEINT", "pairs of actions within the window"),
        ("first_ts", "TIMESTAMP", "first action"), ("last_ts", "TIMESTAMP", "last action"),
        ("mode", "VARCHAR", "aggregated | capped")], order="run_id, object, mode"),
)


_DETECT_DOCS = {
    "detect_accounts": "every account of the store with its coordination score",
    "detect_edges": "the significant account pairs",
    "detect_clusters": "the clusters of flagged accounts",
    "detect_cluster_traits": "what kind of coordination binds each cluster, trait by trait",
    "detect_evidence": "the co-actions behind each edge and each affiliation (stored by key: "
                       "account_key_a/b, object_key or object_value, post_key_a/b; these are "
                       "the columns read through detection.evidence.detect_evidence(), as "
                       "export and detect --out write them)",
    "detect_calibration": "the permutation check (with --permutations)",
    "detect_fingerprints": "activity fingerprints of accounts with enough posts",
    "detect_operations": "operations: clusters joined by edges, with zone and shift structure",
    "detect_shifts": "the shift segments of operations",
    "detect_shift_hours": "posts per member and hour of day, plot-ready",
    "detect_profile": "profile findings (creation bursts, shared names, clients, handles)",
    "detect_attacks": "bursts of replies or mentions aimed at one target",
    "detect_trends": "bursts of a hashtag or domain, and who made them",
    "detect_ephemeral": "bursts of posts deleted within minutes",
}
_CALIBRATION = {
    "run_id": "the detect run", "permutation": "the permuted copy (from 0)",
    "kind, window_s": "the test ('all' for the account count)",
    "testable_pairs, pairs_at_alpha, share_at_alpha": "the copy's testable pairs and those at "
        "p <= alpha_pair (nominal share: at most alpha_pair)",
    "accounts_flagged": "accounts the copy would flag (nominal: none)",
}
_ORDERS = {
    "detect_accounts": "score DESC, platform, account_id",
    "detect_edges": "weight DESC, platform_a, account_a, platform_b, account_b",
    "detect_clusters": "cluster_id",
    "detect_cluster_traits": "cluster_id, trait",
    "detect_evidence": "platform_a, account_a, platform_b, account_b, kind, dt_s, ts_a, post_a, "
                       "post_b, object, basis",
    "detect_calibration": "permutation, kind, window_s",
    "detect_fingerprints": "platform, account_id",
    "detect_operations": "operation_id",
    "detect_shifts": "operation_id, segment",
    "detect_shift_hours": "operation_id, segment NULLS LAST, account_id, hour_utc, cluster_id, "
                          "posts",
    "detect_profile": "kind, key, cluster_id",
    "detect_attacks": "rank", "detect_trends": "rank", "detect_ephemeral": "rank",
}
#: Detect tables stored by key: how they are read, and the order they are stored in.
_KEYED = {"detect_evidence": {
    "read": resolved_evidence("detect_evidence"),
    "stored_order": "account_key_a, account_key_b, kind, dt_s, ts_a, post_key_a, post_key_b, "
                    "object_key, object_value, basis"}}
_FILES = {"detect_accounts": "accounts", "detect_edges": "edges", "detect_clusters": "clusters",
          "detect_cluster_traits": "cluster_traits",
          "detect_evidence": "evidence"}
#: The tables of a detect run, in the order ``detect --out`` and ``export`` write them.
DETECT = tuple(
    Table(name, _DETECT_DOCS[name], {"run_id": "the detect run", **columns},
          file=_FILES.get(name, name.removeprefix("detect_")), order=_ORDERS[name],
          **_KEYED.get(name, {}))
    for name, columns in {**_DETECT_CORE, "detect_calibration": _CALIBRATION,
                          **_DETECT_TEMPORAL, **_DETECT_SIGNATURES}.items())
#: The calibration table's columns: written by every detect run, rows with --permutations.
CALIBRATION = pa.schema([
    ("run_id", pa.int64()), ("permutation", pa.int32()), ("kind", pa.string()),
    ("window_s", pa.float64()), ("testable_pairs", pa.int64()), ("pairs_at_alpha", pa.int64()),
    ("share_at_alpha", pa.float64()), ("accounts_flagged", pa.int64())])

TABLES = {t.name: t for t in (*CANONICAL, *PAIRS, *DETECT)}
#: What ``export --format csv|parquet`` writes: every result table (pairs' and detect's).
RESULT_TABLES = tuple(t.name for t in (*DETECT, *PAIRS)
                      if t.name not in ("pair_runs", "pair_edges", "pair_evidence"))


def create_sql(tables: tuple[Table, ...]) -> list[str]:
    """The statements that create ``tables`` where missing."""
    return [t.ddl() for t in tables]


def keyed_evidence_sql(old: str, before: str, after: str) -> str:
    """SELECT over the readable evidence rows ``old`` of a version-6 store, by key (their
    objects kept as values): the columns ``before`` the keys, the keys, and ``after``."""
    post = "{0}.platform = e.platform_{1} AND {0}.post_id = e.post_{1}"
    return f"""SELECT {before}, ka.account_key AS account_key_a, kb.account_key AS account_key_b,
               CAST(NULL AS BIGINT) AS object_key, e.object AS object_value,
               pa.post_key AS post_key_a, e.ts_a, pb.post_key AS post_key_b, e.ts_b, e.dt_s{after}
           FROM {old} e
           JOIN main.account_keys ka ON ka.platform = e.platform_a AND ka.account_id = e.account_a
           JOIN main.account_keys kb ON kb.platform = e.platform_b AND kb.account_id = e.account_b
           JOIN main.posts pa ON {post.format('pa', 'a')}
           JOIN main.posts pb ON {post.format('pb', 'b')}"""


def _key_detect_evidence(con) -> None:
    """Schema upgrade 6 -> 7: every kept run's ``detect_evidence`` stored by key."""
    for (schema,) in con.execute(
            "SELECT schema_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name = 'detect_evidence' ORDER BY 1").fetchall():
        old = f'"{schema}".detect_evidence_v6'
        con.execute(f'ALTER TABLE "{schema}".detect_evidence RENAME TO detect_evidence_v6')
        con.execute(f'CREATE TABLE "{schema}".detect_evidence AS SELECT * FROM ('
                    + keyed_evidence_sql(old, "e.run_id, e.kind, e.window_s", ", e.basis")
                    + f") k ORDER BY {_KEYED['detect_evidence']['stored_order']}")
        con.execute(f"DROP TABLE {old}")


#: By version v: (a table, the statements, or a function of the connection, that bring a
#: store of version v to v + 1 where it has that table) pairs; run in one transaction on open
#: for writing.
UPGRADES = {
    2: [("edges", ["ALTER TABLE edges RENAME TO edges_v2", *create_sql(PAIRS),
        """INSERT INTO pair_runs SELECT DISTINCT run_id, kind, semantics, window_s FROM edges_v2""",
        """INSERT INTO pair_edges
           SELECT run_id, ka.account_key, kb.account_key, weight, shared_objects, events,
                  a_actions, b_actions, a_first, b_first, mean_dt_s, min_dt_s, symmetry, cosine,
                  popular_events
           FROM edges_v2
           JOIN account_keys ka ON ka.platform = platform_a AND ka.account_id = account_a
           JOIN account_keys kb ON kb.platform = platform_b AND kb.account_id = account_b""",
        "DROP TABLE edges_v2"])],
    3: [("posts", ["ALTER TABLE posts ADD COLUMN IF NOT EXISTS post_key BIGINT",
                   "UPDATE posts SET post_key = rowid + 1 WHERE post_key IS NULL"])],
    4: [("evidence", ["ALTER TABLE evidence ADD COLUMN IF NOT EXISTS platform_a VARCHAR",
                      "ALTER TABLE evidence ADD COLUMN IF NOT EXISTS platform_b VARCHAR",
                      """UPDATE evidence SET platform_a = e.platform_a, platform_b = e.platform_b
                        FROM (SELECT DISTINCT run_id, ka.platform AS platform_a, ka.account_id AS a,
                                     kb.platform AS platform_b, kb.account_id AS b
                              FROM pair_edges JOIN account_keys ka ON ka.account_key = account_key_a
                              JOIN account_keys kb ON kb.account_key = account_key_b) e
                        WHERE evidence.run_id = e.run_id AND evidence.account_a = e.a
                              AND evidence.account_b = e.b"""])],
    5: [("detect_accounts", keep_legacy_results)],
    6: [("evidence", ["ALTER TABLE evidence RENAME TO evidence_v6", *create_sql(PAIRS),
                      "INSERT INTO pair_evidence "
                      + keyed_evidence_sql("evidence_v6", "e.run_id, e.kind", ""),
                      "DROP TABLE evidence_v6"]),
        ("detect_evidence", _key_detect_evidence)],
}
