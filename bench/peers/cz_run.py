"""coordinationz 0.2.2 on one scenario, run with the interpreter of its own environment.

Not a swarmscope module: ``bench/peers/coordinationz_env.sh`` makes the environment, and
``bench/peers/cz_peer.py`` (the protocol's side) runs this file there, one child per method::

    .venv-coordinationz/bin/python bench/peers/cz_run.py standins DIR
    .venv-coordinationz/bin/python bench/peers/cz_run.py run --standins DIR --csv POSTS.csv
        --method union|softunion|coretweet|cohashtag|courl|coword --out PAIRS.csv [--seed 0]

``standins`` writes the offline stand-ins that ``coordinationz.indicator_utilities`` loads at
import: a blank English spaCy pipeline with spacy-lookups-data's lookup lemmatizer, saved as the
directory ``DIR/en_core_web_lg`` (``spacy.load`` takes a name that is a directory as a path), and
an English stop-word list as NLTK's corpus ``DIR/nltk_data/corpora/stopwords/english`` (spaCy's
326 words: NLTK's own list needs a download). Only co-word reads them.

``run`` follows the steps of the upstream pipeline (``pipeline/indicators.py`` of
filipinascimento/coordinationz, which the wheel does not ship) with the library's own functions:
per indicator, users with too few activities dropped, the user-item bipartite network, its
filters, the bipartite null model's similarities and quantiles, the indicator's threshold; then
the indicators merged and the merged network thresholded. The settings are those of the
upstream templates ``config_template_union.toml`` and ``config_template_softunion.toml``. Their
community detection is left out: it labels nodes and removes no pair. It writes the output pairs
(``account_a, account_b, value``: the union's similarity, the soft union's quantile, an
indicator's similarity) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

INDICATORS = ("coretweet", "cohashtag", "courl", "coword")

#: the templates' settings (the upstream TOML files, as dictionaries); ``paths`` is set per run
TEMPLATE_INDICATOR = {"minUserDegree": 10, "minUserStrength": 1, "minItemDegree": 1,
                      "minItemStrength": 1, "minUserActivities": 10}
UNION = {
    "nullmodel": {"realizations": 0, "scoreType": ["quantile"], "batchSize": 10,
                  "idf": "smoothlog", "workers": -1, "minSimilarity": 0.0},
    "indicator": {**TEMPLATE_INDICATOR,
                  **{i: {"thresholds": {"weight": 0.85 if i == "coword" else 0.80}}
                     for i in INDICATORS}},
    "merging": {"method": "max", "weightAttribute": "similarity", "shouldAggregate": True},
    "output": {"thresholdAttribute": "similarity", "thresholds": [0]},
}
SOFTUNION = {
    "nullmodel": {**UNION["nullmodel"], "minSimilarity": 0.5},
    "indicator": {**TEMPLATE_INDICATOR, "thresholds": {"quantile": 0.0}},
    "merging": {"method": "quantile", "weightAttribute": "quantile", "shouldAggregate": True},
    "output": {"thresholdAttribute": "quantile", "thresholds": [0.99]},
}
#: method -> (settings, indicators, the edge attribute written as ``value``)
METHODS = {"union": (UNION, INDICATORS, "similarity"),
           "softunion": (SOFTUNION, INDICATORS, "quantile"),
           **{i: (UNION, (i,), "weight") for i in INDICATORS}}


def standins(root: Path) -> None:
    """The blank English pipeline as ``en_core_web_lg`` and the stop-word corpus."""
    import spacy
    from spacy.lang.en.stop_words import STOP_WORDS
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    root.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(root / "en_core_web_lg")
    corpus = root / "nltk_data" / "corpora" / "stopwords"
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "english").write_text("\n".join(sorted(STOP_WORDS)) + "\n")


def run(a: argparse.Namespace) -> dict:
    """One method on one posts file; its output pairs into ``a.out``."""
    os.environ["NLTK_DATA"] = str(a.standins / "nltk_data")
    os.chdir(a.standins)   # where spacy.load('en_core_web_lg') finds the stand-in
    random.seed(a.seed)    # igraph's generator is Python's
    import numpy as np
    np.random.seed(a.seed)
    t0 = time.perf_counter()
    import coordinationz as cz
    import coordinationz.indicator_utilities as czind
    import coordinationz.network as cznet
    import coordinationz.preprocess_utilities as czpre
    import pandas as pd
    settings, indicators, attribute = METHODS[a.method]
    config = {**settings, "paths": {"PREPROCESSED_DATASETS": str(a.csv.parent)}}
    params = czind.parseParameters(config, list(indicators))
    df = czpre.loadPreprocessedData(a.csv.stem, config=config)
    t_load = time.perf_counter() - t0
    bipartite = {"coretweet": czind.obtainBipartiteEdgesRetweets,
                 "cohashtag": czind.obtainBipartiteEdgesHashtags,
                 "courl": czind.obtainBipartiteEdgesURLs,
                 "coword": czind.obtainBipartiteEdgesWords}
    networks, facts = {}, {}
    for ind in indicators:
        users = czind.filterUsersByMinActivities(df, activityType=ind, **params["user"][ind])
        edges = czind.filterNodes(bipartite[ind](users), **params["filter"][ind])
        facts[ind] = {"bipartite_edges": len(edges), "users": len({u for u, _ in edges})}
        if not edges:
            continue
        out = cz.nullmodel.bipartiteNullModelSimilarity(
            edges, returnDegreeSimilarities=False, returnDegreeValues=True,
            showProgress=False, **params["nullmodel"][ind])
        g = cznet.createNetworkFromNullModelOutput(out, showProgress=False,
                                                   **params["network"][ind])
        g = cznet.thresholdNetwork(cznet.removeSingletons(g), **params["threshold"][ind])
        facts[ind]["edges"] = g.ecount()
        networks[ind] = g
    if a.method in INDICATORS:
        g = networks.get(a.method)
    elif networks:
        merging = params["merging"]
        g = czind.mergeNetworks(networks, **merging)
        out_cfg = params["output"]
        for threshold in out_cfg["thresholds"]:
            g = cznet.thresholdNetwork(g, {out_cfg["thresholdAttribute"]: threshold})
    else:
        g = None
    if g is not None and g.ecount():
        labels = g.vs["Label"]
        ends = g.get_edgelist()
        pairs = pd.DataFrame({"account_a": [labels[i] for i, _ in ends],
                              "account_b": [labels[j] for _, j in ends],
                              "value": g.es[attribute]})
    else:
        pairs = pd.DataFrame({"account_a": [], "account_b": [], "value": []})
    pairs.to_csv(a.out, index=False)
    versions = {m: sys.modules[m].__version__ for m in ("coordinationz", "pandas", "numpy",
                                                        "spacy", "igraph") if m in sys.modules}
    return {"method": a.method, "rows": len(df), "load_s": round(t_load, 1),
            "indicators": facts, "pairs": len(pairs), "versions": versions,
            "vm_hwm_kib": vm_hwm_kib()}


def vm_hwm_kib() -> int:
    """This process's peak resident memory (``VmHWM``: reset at exec, unlike ``ru_maxrss``,
    which keeps the forking parent's)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("standins")
    s.add_argument("dir", type=Path)
    r = sub.add_parser("run")
    r.add_argument("--standins", type=Path, required=True)
    r.add_argument("--csv", type=Path, required=True)
    r.add_argument("--method", choices=sorted(METHODS), required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.cmd == "standins":
        standins(a.dir.resolve())
        return 0
    a.standins, a.csv, a.out = a.standins.resolve(), a.csv.resolve(), a.out.resolve()
    print(json.dumps(run(a)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
