"""``export``: the result tables as CSV or Parquet, the network as GEXF (Gephi) or GraphML.

With a pseudonym key, account ids and handles become keyed pseudonyms (HMAC-SHA256, stable for
one key: the same account gets the same pseudonym in every export), post ids too, and post texts
are left out (they name people); the key itself is written nowhere. CSV cells that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a
leading ``'`` (OWASP's CSV injection advice): the text is written by the adversary.
"""

from __future__ import annotations

import colorsys
import hashlib
import hmac
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from swarmscope.errors import SwarmscopeError
from swarmscope.outputs import XML_UNSAFE, atomic_write, check_output, output_dir, visible
from swarmscope.store import Store
from swarmscope.store.backend import Backend
from swarmscope.store.schema import RESULT_TABLES, TABLES

ACCOUNT_COLUMNS = {"account_id", "account_a", "account_b", "handle"}
POST_COLUMNS = {"post_id", "post_a", "post_b"}
#: Left out of pseudonymised exports: texts, and lists that hold account or post ids.
TEXT_COLUMNS = {"text_a", "text_b", "top_texts", "strongest", "attacker_ids", "account_ids",
                "accounts", "evidence"}
#: Kinds whose evidence objects are posts or accounts (pseudonymised with a key).
IDENTIFYING_OBJECTS = {"repost", "reply", "mention", "fast_repost"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GEXF_VIZ = "http://gexf.net/1.3/viz"


def read_key(path: str | Path | None) -> bytes:
    """The pseudonym key: the file's bytes, surrounding whitespace removed (at least 16)."""
    if path is None:
        raise SwarmscopeError("--pseudonymize needs --key-file FILE (a secret of at least 16 "
                              "bytes, e.g. from `head -c 32 /dev/urandom | base64 > key.txt`)")
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise SwarmscopeError(f"cannot read the key file {path}: {exc.strerror}") from None
    if len(key) < 16:
        raise SwarmscopeError(f"the key file {path} holds {len(key)} bytes; use at least 16")
    return key


def pseudonym(key: bytes, value: str | None, prefix: str = "acct") -> str | None:
    """A stable keyed pseudonym of ``value`` (HMAC-SHA256, 16 hex digits)."""
    if value is None:
        return None
    return f"{prefix}_{hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]}"


def _pseudonymize(table: pa.Table, key: bytes) -> pa.Table:
    names = table.column_names
    for name in names:
        if name in TEXT_COLUMNS:
            table = table.drop_columns([name])
            continue
        if name not in ACCOUNT_COLUMNS | POST_COLUMNS | {"object", "target", "key"}:
            continue   # never read into Python: a time before year 1 is no datetime
        values = table.column(name).to_pylist()
        if name in ACCOUNT_COLUMNS | POST_COLUMNS:
            prefix = "post" if name in POST_COLUMNS else "acct"
            new = [pseudonym(key, v, prefix) for v in values]
        elif name == "object" and "kind" in names:   # evidence: accounts or posts by kind
            new = [pseudonym(key, v, "obj") if k in IDENTIFYING_OBJECTS else v
                   for v, k in zip(values, table.column("kind").to_pylist())]
        elif name == "target":                       # attacks: an account or a post
            new = [pseudonym(key, v, "post" if k == "post" else "acct")
                   for v, k in zip(values, table.column("target_kind").to_pylist())]
        elif name == "key" and "kind" in names:      # profile: shared names and descriptions
            new = [None if k in ("display_name", "description") else v
                   for v, k in zip(values, table.column("kind").to_pylist())]
        else:
            continue
        table = table.set_column(table.column_names.index(name), name,
                                 pa.array(new, pa.string()))
    return table


def _defuse_formulas(table: pa.Table) -> pa.Table:
    """Prefix text cells that start like a spreadsheet formula with ``'``."""
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            risky = pc.starts_with(col, FORMULA_START[0])
            for start in FORMULA_START[1:]:
                risky = pc.or_(risky, pc.starts_with(col, start))
            table = table.set_column(i, name, pc.if_else(
                pc.fill_null(risky, False), pc.binary_join_element_wise("'", col, ""), col))
    return table


def export(store: Store, fmt: str, out: str | Path, key: bytes | None = None, *,
           everyone: bool = False, run: int | None = None) -> list[Path]:
    """Write the results of detect run ``run`` (default: the one the store shows, the latest
    unless :meth:`Store.use_run` chose another) and the pairs tables; returns the files
    written. The network (gexf, graphml) holds the flagged accounts and the edges between
    them, or with ``everyone`` every account with an edge. The output path is checked before
    any work."""
    network = fmt in ("gexf", "graphml")
    if network and (str(out).endswith(("/", os.sep)) or Path(out).is_dir()):
        raise SwarmscopeError(f"--out {out} is a directory, but --format {fmt} writes one "
                              f"file: give a file name, e.g. {Path(out) / f'network.{fmt}'}")
    out = check_output(out, directory=not network)
    if run is not None or network:
        store.use_run(run if run is not None else store.run)
    db = store.db
    present = {t for t in RESULT_TABLES if db.has_table(t, temporary=False)}
    if network:
        nodes, edges = _network(db, key, everyone)
        with atomic_write(out) as tmp:
            (_write_gexf if fmt == "gexf" else _write_graphml)(nodes, edges, tmp)
        return [out]
    tables = [t for t in RESULT_TABLES if t in present]
    if not tables:
        raise SwarmscopeError("no results in this store: run `swarmscope pairs` or `detect` first")
    out = output_dir(out)
    written = []
    for name in tables:
        table = _flatten(db, name)
        if key is not None:
            table = _pseudonymize(table, key)
        path = out / f"{name}.{fmt}"
        with atomic_write(path) as tmp:
            if fmt == "csv":
                pacsv.write_csv(_defuse_formulas(table), tmp)
            else:
                pq.write_table(table, tmp)
        written.append(path)
    return written


def _flatten(db: Backend, name: str) -> pa.Table:
    """The table in its order, its nested columns (lists of structs) as JSON text, so that
    CSV can hold them."""
    schema = db.to_arrow(f"SELECT * FROM {TABLES[name].source} LIMIT 0").schema
    cols = ", ".join(f'to_json("{f.name}")::VARCHAR AS "{f.name}"'
                     if pa.types.is_nested(f.type) else f'"{f.name}"' for f in schema)
    return db.to_arrow(TABLES[name].ordered(cols))


def _network(db: Backend, key: bytes | None, everyone: bool = False
             ) -> tuple[list[dict], list[dict]]:
    """Nodes (the flagged accounts, or with ``everyone`` every account with an edge) and the
    edges between them, with their attributes: per-kind scores of the nodes, per-kind p and
    co-acted objects (x) of the edges. One join each, no per-node subquery."""
    node_kinds = [c for c in db.columns("detect_accounts")
                  if c.startswith(("score_", "p_")) and c != "p_value"]
    edge_kinds = [c for c in db.columns("detect_edges")
                  if c.startswith(("p_", "x_")) and c != "p_value"]
    pseudo = (lambda v: pseudonym(key, v)) if key is not None else (lambda v: v)
    db.materialise("export_nodes", f"""
        SELECT platform, account_id, handle, score, flagged, coalesce(cluster_id, 0) AS cluster,
               p_value, q_value, posts{''.join(f', "{c}"' for c in node_kinds)}
        FROM detect_accounts
        WHERE {'true' if everyone else 'flagged'} AND (platform, account_id) IN (
            SELECT (platform_a, account_a) FROM detect_edges
            UNION SELECT (platform_b, account_b) FROM detect_edges)""")
    nodes = db.to_arrow("SELECT * FROM export_nodes ORDER BY platform, account_id").to_pylist()
    edges = db.to_arrow(f"""
        SELECT e.platform_a, e.account_a, e.platform_b, e.account_b, e.weight, e.p_value,
               coalesce(e.cluster_id, 0) AS cluster{''.join(f', e."{c}"' for c in edge_kinds)}
        FROM detect_edges e
        SEMI JOIN export_nodes a ON a.platform = e.platform_a AND a.account_id = e.account_a
        SEMI JOIN export_nodes b ON b.platform = e.platform_b AND b.account_id = e.account_b
        ORDER BY e.platform_a, e.account_a, e.platform_b, e.account_b""").to_pylist()
    db.drop("export_nodes")
    for n in nodes:
        n["account_id"] = pseudo(n["account_id"])
        n["id"] = f"{n.pop('platform')}:{n['account_id']}"
        n["handle"] = n["handle"] if key is None else None
    for e in edges:
        e["source"] = f"{e.pop('platform_a')}:{pseudo(e.pop('account_a'))}"
        e["target"] = f"{e.pop('platform_b')}:{pseudo(e.pop('account_b'))}"
    return nodes, edges


def cluster_colour(cluster: int) -> tuple[int, int, int]:
    """A colour per cluster, distinct for neighbouring ids (hues a golden angle apart, two
    lightnesses); grey for accounts in no cluster (0)."""
    if not cluster:
        return (160, 160, 160)
    hue = (cluster * 0.381966) % 1.0
    light = 0.45 if cluster % 2 else 0.6
    return tuple(round(255 * c) for c in colorsys.hls_to_rgb(hue, light, 0.75))


NODE_ATTRS = {"account_id": "string", "handle": "string", "score": "double",
              "flagged": "boolean", "cluster": "integer", "posts": "integer"}
EDGE_ATTRS = {"p_value": "double", "cluster": "integer"}
#: Edge attributes ``x_<kind>`` are counts of co-acted objects.
COUNT_PREFIX = "x_"


def _attr_types(rows: list[dict], known: dict[str, str], skip: set[str]) -> dict[str, str]:
    names = [k for k in (rows[0] if rows else known) if k not in skip]
    return {k: known.get(k, "integer" if k.startswith(COUNT_PREFIX) else "double")
            for k in names}


def _text(value: object) -> str:
    """An attribute value as XML can hold it: control characters as visible escapes."""
    return visible(str(value).lower() if isinstance(value, bool) else value, XML_UNSAFE)


def _write_gexf(nodes: list[dict], edges: list[dict], path: Path) -> None:
    """GEXF 1.3 for Gephi: nodes with cluster, score, flagged and per-kind scores and p, a
    colour per cluster (viz:color); edges with p and per-kind p and co-acted objects."""
    root = ET.Element("gexf", {"xmlns": "http://gexf.net/1.3", "xmlns:viz": GEXF_VIZ,
                               "version": "1.3"})
    graph = ET.SubElement(root, "graph", {"defaultedgetype": "undirected"})
    node_attrs = _attr_types(nodes, NODE_ATTRS, {"id"})
    edge_attrs = _attr_types(edges, EDGE_ATTRS, {"source", "target", "weight"})
    for cls, attrs in (("node", node_attrs), ("edge", edge_attrs)):
        decl = ET.SubElement(graph, "attributes", {"class": cls})
        for i, (name, typ) in enumerate(attrs.items()):
            ET.SubElement(decl, "attribute", {"id": str(i), "title": name, "type": typ})
    xn = ET.SubElement(graph, "nodes")
    for n in nodes:
        el = ET.SubElement(xn, "node", {"id": _text(n["id"]),
                                          "label": _text(n["handle"] or n["account_id"])})
        vals = ET.SubElement(el, "attvalues")
        for i, name in enumerate(node_attrs):
            if n[name] is not None:
                ET.SubElement(vals, "attvalue", {"for": str(i), "value": _text(n[name])})
        r, g, b = cluster_colour(n["cluster"])
        ET.SubElement(el, "viz:color", {"r": str(r), "g": str(g), "b": str(b)})
    xe = ET.SubElement(graph, "edges")
    for j, e in enumerate(edges):
        el = ET.SubElement(xe, "edge", {"id": str(j), "source": _text(e["source"]),
                                        "target": _text(e["target"]),
                                        "weight": _text(e["weight"])})
        vals = ET.SubElement(el, "attvalues")
        for i, name in enumerate(edge_attrs):
            if e[name] is not None:
                ET.SubElement(vals, "attvalue", {"for": str(i), "value": _text(e[name])})
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _write_graphml(nodes: list[dict], edges: list[dict], path: Path) -> None:
    """GraphML with the same attributes."""
    types = {"string": "string", "double": "double", "boolean": "boolean", "integer": "long"}
    root = ET.Element("graphml", {"xmlns": "http://graphml.graphdrawing.org/xmlns"})
    node_attrs = _attr_types(nodes, NODE_ATTRS, {"id"})
    edge_attrs = _attr_types(edges, EDGE_ATTRS, {"source", "target"})
    for scope, attrs, prefix in (("node", node_attrs, "n"), ("edge", edge_attrs, "e")):
        for name, typ in attrs.items():
            ET.SubElement(root, "key", {"id": f"{prefix}_{name}", "for": scope,
                                        "attr.name": name, "attr.type": types[typ]})
    graph = ET.SubElement(root, "graph", {"edgedefault": "undirected"})
    for n in nodes:
        el = ET.SubElement(graph, "node", {"id": _text(n["id"])})
        for name in node_attrs:
            if n[name] is not None:
                ET.SubElement(el, "data", {"key": f"n_{name}"}).text = _text(n[name])
    for e in edges:
        el = ET.SubElement(graph, "edge", {"source": _text(e["source"]),
                                           "target": _text(e["target"])})
        for name in edge_attrs:
            if e[name] is not None:
                ET.SubElement(el, "data", {"key": f"e_{name}"}).text = _text(e[name])
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
