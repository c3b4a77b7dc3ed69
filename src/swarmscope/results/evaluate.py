"""``evaluate``: the stored account scores against labels (CSV ``account_id,label[,group]``).

Metrics: ROC-AUC (Mann–Whitney, ties counted half), PR-AUC (average precision, the step-wise
area that scikit-learn's ``average_precision_score`` computes), precision, recall, F1 and FPR at
the operating point (``flagged``), precision at k, and, when ``group`` is given, NMI and ARI of
the clusters against the groups among the positives (an account in no cluster is a cluster of
its own).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa

from swarmscope.errors import SwarmscopeError
from swarmscope.store import Store

TRUE, FALSE = {"1", "true", "yes"}, {"0", "false", "no"}
PRECISION_AT = (10, 50, 100)


def read_labels(path: str | Path) -> list[tuple[str, int, str | None]]:
    """(account_id, label, group) rows; a bad row is an error naming its line and field."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SwarmscopeError(f"cannot read labels {path}: {exc.strerror}") from None
    try:
        with handle:
            return _label_rows(path, csv.DictReader(handle))
    except UnicodeDecodeError:
        raise SwarmscopeError(f"{path} is not UTF-8 text: convert it (e.g. iconv -f latin1 "
                              "-t utf-8)") from None
    except csv.Error as exc:
        raise SwarmscopeError(f"{path}: not a readable CSV file ({exc})") from None


def _label_rows(path: Path, reader: csv.DictReader) -> list[tuple[str, int, str | None]]:
    """The rows of an open labels file."""
    rows = []
    missing = {"account_id", "label"} - set(reader.fieldnames or [])
    if missing:
        raise SwarmscopeError(f"{path}, line 1: the header lacks {', '.join(sorted(missing))}"
                              "; expected account_id,label[,group]")
    for row in reader:
        value = (row["label"] or "").strip().lower()
        if value not in TRUE | FALSE:
            raise SwarmscopeError(
                f"{path}, line {reader.line_num}, field label: {row['label']!r} is not "
                "1/0 or true/false")
        group = (row.get("group") or "").strip() or None
        rows.append((row["account_id"].strip(), int(value in TRUE), group))
    return rows


def evaluate(store: Store, labels_path: str | Path, run: int | None = None) -> dict:
    """Metrics of detect run ``run``'s ``detect_accounts`` (default: the run the store shows,
    the latest unless :meth:`Store.use_run` chose another) against the labels (see the module
    doc)."""
    labels = read_labels(labels_path)
    if not labels:
        raise SwarmscopeError(f"{labels_path} has no labelled accounts")
    db = store.db
    store.use_run(run if run is not None else store.run)
    ids, values, groups = zip(*labels)
    db.register_arrow("labels", pa.table({"account_id": pa.array(ids, pa.string()),
                                          "label": pa.array(values, pa.int32()),
                                          "grp": pa.array(groups, pa.string())}))
    rows = db.query("""
        SELECT l.label, max(d.score), bool_or(d.flagged), min(d.cluster_id), any_value(l.grp),
               count(d.account_id) AS found
        FROM labels l LEFT JOIN detect_accounts d USING (account_id)
        GROUP BY l.account_id, l.label""")
    found = [r for r in rows if r[5]]
    if not found:
        raise SwarmscopeError("none of the labelled accounts is in the store: check the ids")
    y = np.array([r[0] for r in found])
    score = np.array([r[1] for r in found], dtype=float)
    flagged = np.array([r[2] for r in found], dtype=bool)
    result = {"n_labelled": len(rows), "n_not_in_store": len(rows) - len(found),
              "n_pos": int(y.sum()), "n_neg": int((1 - y).sum()),
              "roc_auc": roc_auc(y, score), "pr_auc": average_precision(y, score),
              **operating_point(y, flagged),
              "precision_at_k": {str(k): precision_at_k(y, score, k)
                                 for k in (*PRECISION_AT, int(y.sum())) if 0 < k <= len(y)}}
    groups = [(r[3], r[4]) for r in found if r[0] == 1 and r[4] is not None]
    if groups:
        clusters = [c if c is not None else f"alone:{i}" for i, (c, _) in enumerate(groups)]
        result["nmi"] = nmi(clusters, [g for _, g in groups])
        result["ari"] = ari(clusters, [g for _, g in groups])
    return result


def operating_point(y: np.ndarray, flagged: np.ndarray) -> dict:
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    pos, neg = int(y.sum()), int((y == 0).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "fpr": fp / neg if neg else 0.0, "tp": tp, "fp": fp}


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve: P(score of a positive > a negative's), ties counted half."""
    pos, neg = int(y.sum()), int((y == 0).sum())
    if not pos or not neg:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    """Σ_n (R_n − R_{n−1}) P_n over the distinct score thresholds, highest first."""
    pos = int(y.sum())
    if not pos:
        return None
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(t)[last_of_tie]
    precision = tps / (last_of_tie + 1)
    recall = tps / pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_at_k(y: np.ndarray, score: np.ndarray, k: int) -> float:
    return float(y[np.argsort(-score, kind="mergesort")[:k]].mean())


def _contingency(a: list, b: list) -> np.ndarray:
    _, ai = np.unique(np.asarray(a, dtype=str), return_inverse=True)
    _, bi = np.unique(np.asarray(b, dtype=str), return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    return table


def nmi(a: list, b: list) -> float:
    """Normalised mutual information (arithmetic mean of the entropies, as scikit-learn)."""
    c = _contingency(a, b)
    n = c.sum()
    pa, pb, pab = c.sum(1) / n, c.sum(0) / n, c / n
    nz = pab > 0
    mi = float((pab[nz] * np.log(pab[nz] / np.outer(pa, pb)[nz])).sum())
    ha, hb = -float((pa * np.log(pa)).sum()), -float((pb * np.log(pb)).sum())
    return 1.0 if ha == hb == 0 else mi / ((ha + hb) / 2) if ha + hb else 0.0


def ari(a: list, b: list) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985)."""
    c = _contingency(a, b)
    comb = lambda x: x * (x - 1) / 2  # noqa: E731
    index = comb(c).sum()
    sa, sb, total = comb(c.sum(1)).sum(), comb(c.sum(0)).sum(), comb(c.sum())
    expected = sa * sb / total if total else 0.0
    top = (sa + sb) / 2 - expected
    return 1.0 if top == 0 else float((index - expected) / top)
