"""Exports: GEXF/GraphML that Gephi's readers (networkx, igraph) load, CSV/Parquet of every
result table, keyed pseudonyms, and CSV cells that cannot run as formulas."""

from __future__ import annotations

import csv

import igraph
import pytest

from swarmscope import Store
from swarmscope.export import cluster_colour
from swarmscope.store.schema import DETECT, RESULT_TABLES

from conftest import planted_store, run

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    db = planted_store(tmp, 5, [("UPDATE posts SET text = ? WHERE account_id = 'g0'", [FORMULA])])
    with Store(db, read_only=True) as store:
        flagged = {r[0]: r[1] for r in store.con.execute(
            "SELECT account_id, cluster_id FROM detect_accounts WHERE flagged").fetchall()}
    key = tmp / "key.txt"
    key.write_text("a-secret-key-of-some-length\n")
    return db, flagged, key


def test_gexf_and_graphml_load_with_attributes(detected, tmp_path):
    nx = pytest.importorskip("networkx")
    db, flagged, _ = detected
    for fmt in ("gexf", "graphml"):
        assert run("export", "--format", fmt, "--out", tmp_path / f"n.{fmt}", db=db).exit_code == 0
    g = nx.read_gexf(tmp_path / "n.gexf")
    h = igraph.Graph.Read_GraphML(str(tmp_path / "n.graphml"))
    assert g.number_of_nodes() == h.vcount() > 0 and g.number_of_edges() == h.ecount() > 0
    nodes = dict(g.nodes(data=True))
    for account, cluster in flagged.items():
        attrs = nodes[f"twitter:{account}"]
        assert attrs["flagged"] is True and attrs["cluster"] == (cluster or 0)
        assert 0.5 <= attrs["score"] <= 1 and "score_repost" in attrs


def test_csv_every_table_and_formulas_defused(detected, tmp_path):
    db, _, _ = detected
    result = run("export", "--format", "csv", "--out", tmp_path, db=db)
    assert result.exit_code == 0
    names = {p.name for p in tmp_path.iterdir()}
    with Store(db, read_only=True) as store:
        present = {t for t in RESULT_TABLES if store.db.has_table(t, temporary=False)}
    assert names == {f"{t}.csv" for t in present}   # every result table, and only those
    assert {t.name for t in DETECT} <= present      # the signatures' tables too
    with (tmp_path / "detect_evidence.csv").open(newline="") as f:
        texts = [c for row in csv.DictReader(f) for c in (row["text_a"], row["text_b"])]
    assert "'" + FORMULA in texts and FORMULA not in texts
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)


def test_pseudonyms_are_stable_keyed_and_the_key_is_written_nowhere(detected, tmp_path):
    db, flagged, key = detected
    for fmt, out in (("csv", tmp_path / "csv"), ("gexf", tmp_path / "n.gexf")):
        r = run("export", "--format", fmt, "--out", out, "--pseudonymize", "--key-file", key,
                db=db)
        assert r.exit_code == 0, r.output
    files = [*(tmp_path / "csv").iterdir(), tmp_path / "n.gexf"]
    blob = "".join(p.read_text() for p in files)
    assert "a-secret-key" not in blob
    assert not any(f'"{a}"' in blob or f"twitter:{a}" in blob for a in flagged)
    with (tmp_path / "csv/detect_evidence.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and "text_a" not in rows[0]
    ids = {r["account_a"] for r in rows} | {r["account_b"] for r in rows}
    assert all(i.startswith("acct_") for i in ids) and len(ids) >= len(flagged)
    again = tmp_path / "again"
    run("export", "--format", "csv", "--out", again, "--pseudonymize", "--key-file", key, db=db)
    assert (again / "detect_accounts.csv").read_text() == (
        tmp_path / "csv/detect_accounts.csv").read_text()
    assert any(i in (tmp_path / "n.gexf").read_text() for i in ids)


def test_pseudonymize_needs_a_real_key(detected, tmp_path):
    db, _, _ = detected
    short = tmp_path / "short.txt"
    short.write_text("abc")
    for extra, says in (([], "needs --key-file"), (["--key-file", short], "at least 16")):
        r = run("export", "--format", "csv", "--out", tmp_path / "o", "--pseudonymize", *extra,
                db=db)
        assert r.exit_code == 1 and says in r.output


def test_the_network_is_the_flagged_accounts_coloured_by_cluster_with_per_kind_edges(
        detected, tmp_path):
    nx = pytest.importorskip("networkx")
    db, flagged, _ = detected
    for extra, name in (([], "flagged.gexf"), (["--all"], "all.gexf")):
        r = run("export", "--format", "gexf", "--out", tmp_path / name, *extra, db=db)
        assert r.exit_code == 0, r.output
    g, every = nx.read_gexf(tmp_path / "flagged.gexf"), nx.read_gexf(tmp_path / "all.gexf")
    with Store(db, read_only=True) as store:
        ends = {f"twitter:{r[0]}" for r in store.con.execute(
            "SELECT account_a FROM detect_edges UNION SELECT account_b FROM detect_edges"
        ).fetchall()}
    assert set(g.nodes) == {f"twitter:{a}" for a in flagged} and set(every.nodes) == ends
    for _, d in every.nodes(data=True):
        assert tuple(d["viz"]["color"][c] for c in "rgb") == cluster_colour(d["cluster"])
    # a colour of its own for each of the demo's 19 clusters, grey for no cluster
    assert len({cluster_colour(c) for c in range(20)}) == 20
    assert cluster_colour(0) == (160, 160, 160)
    edge = next(iter(g.edges(data=True)))[2]
    assert edge["x_repost"] >= 1 and 0 <= edge["p_repost"] <= 0.01
    assert edge["cluster"] == next(iter(flagged.values()))


def test_a_directory_for_a_network_file_is_refused_before_any_work(detected, tmp_path):
    db, _, _ = detected
    (tmp_path / "exp").mkdir()
    for out in (f"{tmp_path}/new/", tmp_path / "exp"):
        r = run("export", "--format", "gexf", "--out", out, db=db)
        assert r.exit_code == 1
        assert r.stdout == "" and r.stderr.strip().endswith(
            "is a directory, but --format gexf writes one file: give a file name, e.g. "
            f"{str(out).rstrip('/')}/network.gexf")
    assert list(tmp_path.iterdir()) == [tmp_path / "exp"] and not any((tmp_path / "exp").iterdir())
