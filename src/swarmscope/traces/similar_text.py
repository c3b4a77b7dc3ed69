"""Near-duplicate texts across scripts: normalisation, MinHash-LSH over character shingles,
exact verification, and centre clustering.

Texts that copy one another with light edits (a changed word, another link, a few typos) get
one cluster; the ``similar_text`` trace kind (:mod:`swarmscope.traces`) uses the cluster as
its object, so the windowed engine treats a near-duplicate like an exact one.

Method
------
1. :func:`normalize` (Arrow compute, vectorised): see its docstring for each step and why.
2. Character ``k``-shingles (``k`` = 4 by default) of the normalised text, over Unicode code
   points, so one method serves Latin, Cyrillic, Arabic and Persian script, and scripts
   without spaces, alike.
3. MinHash signatures (Broder 1997, "On the resemblance and containment of documents"),
   ``num_perm`` multiply-add-shift hash functions, vectorised in numpy over all shingles of a
   batch of texts (``np.minimum.reduceat``), in batches of bounded size.
4. LSH banding (Indyk & Motwani 1998; Leskovec, Rajaraman & Ullman, *Mining of Massive
   Datasets* ch. 3): texts that agree on all rows of some band become candidates. A bucket
   pairs each member with at most ``bucket_leaders`` of its members (the most-posted texts
   first), so a huge bucket costs linear, not quadratic, time. Banding is SQL (a join on
   (band, bucket)); steps 1, 3 and 5 are Arrow-batched functions the engine calls
   (:meth:`~swarmscope.store.backend.Backend.register_function`), so on Spark they run on the
   executors.
5. Verification: candidates whose signatures agree on fewer than ``threshold - 0.15`` of the
   hash functions are dropped (3 standard errors of the estimate at J = 0.4 with 96
   functions); the rest get their exact Jaccard similarity on shingle sets; pairs at or above
   ``threshold`` are kept.
6. Clusters: the CENTER algorithm (Haveliwala, Gionis & Indyk 2000, "Scalable techniques for
   clustering the web"): in order of popularity, a text that no earlier centre is similar to
   becomes a centre; every other text joins its most popular similar centre. A text left
   alone but similar to a member of a cluster joins that cluster if it resembles the centre
   at ``reach_threshold`` (a copy of a copy). So every member is verified against its
   centre and chaining is limited, unlike connected components, where a chain of small edits
   can join unrelated texts.

Very short texts, with fewer than ``min_shingles`` shingles (fewer than 15 characters after
normalisation, by default), are matched exactly only: a few characters carry too little to
call two texts near-duplicates (two unrelated greetings share most of their shingles).

Cost is linear in the corpus (signatures, banding, verification of a bounded number of
candidates per text); the engine holds the distinct texts and ``4 * num_perm`` bytes of
signature per distinct text; the driver holds the verified pairs (for step 6) and the texts of
the pairs step 6 checks again, never the corpus (except with ``semantic``: the paraphrase index
is built on the driver).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swarmscope.store.backend import Backend
from swarmscope.errors import SwarmscopeError

#: Letter variants mapped to one form (source -> target), applied after NFKC and case folding.
#: Persian and Arabic keyboards type the same letter as different code points: Farsi yeh (ی)
#: and alef maksura (ى, written for final yeh in Egypt) are Arabic yeh (ي); keheh (ک) is kaf
#: (ك); hamza carriers (أ إ آ ٱ, ؤ, ئ) are often typed without the hamza, as is the heh with
#: yeh above (ۀ, Persian ezafe); teh marbuta (ة) is written as heh (ه) in informal Arabic and
#: Persian, and only ever ends a word, so merging it with heh joins no two other words.
#: Arabic-Indic (٠-٩) and Persian (۰-۹) digits look alike and are mapped to ASCII digits.
LETTER_VARIANTS = {
    "ی": "ي", "ى": "ي", "ئ": "ي", "ک": "ك", "ة": "ه", "ۀ": "ه",
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و", "ß": "ss",
    **{chr(0x0660 + d): str(d) for d in range(10)},
    **{chr(0x06F0 + d): str(d) for d in range(10)},
}
#: Removed outright: Arabic harakat and Quranic marks (U+064B-U+065F, U+0670 superscript
#: alef, U+06D6-U+06ED), tatweel (U+0640, a stretching stroke), zero-width and direction
#: characters (U+200B-U+200F: zero-width space, ZWNJ, ZWJ, LRM, RLM; U+202A-U+202E, U+2060,
#: U+2066-U+2069, U+FEFF) and variation selectors (U+FE00-U+FE0F: ❤️ and ❤ are one emoji).
#: ZWNJ is deleted, not turned into a space: Persian writes the same word with a ZWNJ, with
#: nothing, or with a space (می‌خواهم, میخواهم, می خواهم); deleting it makes the first two
#: equal and leaves the third one character (a few shingles) away.
INVISIBLE = ("[\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200B-\u200F\u202A-\u202E\u2060"
             "\u2066-\u2069\uFEFF\uFE00-\uFE0F]")
#: URLs (with or without a scheme), @mentions and #hashtags. Per-post short links and
#: per-recipient mentions hide copy-pasted text (as for the exact ``text`` kind); hashtags have
#: trace kinds of their own, and kept here one long hashtag shared by different texts (a
#: hashtag game: "#RuinADinnerInOnePhrase" + each account's own joke) looks like a copy.
URLS_MENTIONS_HASHTAGS = r"(?:https?://|www\.)\S*|[@#][\pL\pN_]+"


def normalize(texts: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Array:
    """Normalise texts for near-duplicate comparison; vectorised with Arrow compute.

    Steps, in order: Unicode NFKC (full-width and compatibility forms, ligatures, Arabic
    presentation forms become plain letters); lower-casing plus ß -> ss (Unicode case folding
    for the scripts at hand); URLs, @mentions and #hashtags removed; :data:`INVISIBLE` characters
    (harakat, tatweel, zero-width characters including ZWNJ, direction marks, variation
    selectors) removed; :data:`LETTER_VARIANTS` unified; punctuation (Unicode category P)
    replaced by a space; whitespace collapsed. Emoji and other symbols (category S) are kept:
    each is a character, hence part of the shingles like a letter.

    >>> normalize(["Ｓｅｅ https://t.co/x @bob: كِتَابـــ   ی! #Tag"]).to_pylist()
    ['see كتاب ي']
    """
    arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.utf8_lower(pc.utf8_normalize(arr.cast(pa.string()), "NFKC"))
    arr = pc.replace_substring_regex(arr, URLS_MENTIONS_HASHTAGS, " ")
    arr = pc.replace_substring_regex(arr, INVISIBLE, "")
    alefs = "".join(k for k, v in LETTER_VARIANTS.items() if v == "ا")
    arr = pc.replace_substring_regex(arr, f"[{alefs}]", "ا")
    for src, dst in LETTER_VARIANTS.items():
        if dst != "ا":
            arr = pc.replace_substring(arr, src, dst)
    arr = pc.replace_substring_regex(arr, r"\pP+", " ")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))


@dataclass(frozen=True)
class SimilarityParams:
    """Parameters of near-duplicate clustering; each default with its reason.

    Attributes
    ----------
    threshold : float
        Jaccard similarity of shingle sets at or above which two texts are near-duplicates
        (0.4: a copy with 5-10 % of its characters changed at random stays above it (median
        0.71 and 0.53), two unrelated tweets of one language are below 0.15 in 9,999 of 10,000
        pairs; bench/similar_text.py measures recall and precision).
    shingle : int
        Characters per shingle (4: unrelated tweets share more 3-grams (median Jaccard 0.02,
        99th percentile 0.10, against 0 and 0.05 for 4-grams); 5-grams lose more to each edit,
        which breaks up to ``shingle`` of them).
    num_perm : int
        MinHash functions (96: the estimate's standard error at J = 0.4 is 0.05, enough to
        drop hopeless candidates before the exact check; signatures cost 384 bytes a text).
    bands : int
        LSH bands of ``num_perm // bands`` rows (32 bands of 3 rows: a pair becomes a candidate
        with probability 1 - (1 - J**3)**32: 0.88 at J = 0.4, 0.98 at 0.5, 0.03 at 0.1).
    reach_threshold : float
        A text similar only to a member of a cluster (not to its centre) joins the cluster when
        its Jaccard similarity with the centre is at least this (0.3: twice the 1-in-10,000
        similarity of unrelated tweets, 0.15; CENTER alone would leave it out of the cluster).
    semantic : float or None
        Cosine similarity of sentence embeddings from which two texts are paraphrases (None:
        off; needs ``swarmscope[semantic]``, see :mod:`swarmscope.traces.paraphrase`).
    semantic_bucket_seconds : float
        Paraphrases are looked for among texts first posted in the same bucket (86,400 s: a
        day, far wider than co-action windows, small enough to bound each index).
    min_shingles : int
        Texts with fewer shingles match exactly only (12: under 15 characters).
    bucket_leaders : int
        Each LSH bucket pairs each member with at most this many members, the most posted first
        (32: all pairs in small buckets, linear cost in huge ones).
    batch_chars : int
        Characters (shingles) hashed per batch; bounds the working memory (4M: about 100 MB).
    """

    threshold: float = 0.4
    shingle: int = 4
    num_perm: int = 96
    bands: int = 32
    reach_threshold: float = 0.3
    semantic: float | None = None
    semantic_bucket_seconds: float = 86_400.0
    min_shingles: int = 12
    bucket_leaders: int = 32
    batch_chars: int = 4_000_000
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("threshold", "reach_threshold"):
            if not 0 < getattr(self, name) <= 1:
                raise SwarmscopeError(f"similar_text {name} must be in (0, 1]; "
                                      f"got {getattr(self, name)}")
        if self.shingle < 1 or self.min_shingles < 1:
            raise SwarmscopeError("similar_text shingle size and min_shingles must be >= 1")
        if self.bands < 1 or self.num_perm % self.bands:
            raise SwarmscopeError(f"similar_text num_perm ({self.num_perm}) must be a multiple of "
                                  f"bands ({self.bands})")


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (splitmix64's): spreads polynomial hashes over all bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _codepoints(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """All texts' code points, concatenated (uint32), and each text's start offset (n + 1)."""
    lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(texts.to_pylist())
    return np.frombuffer(joined.encode("utf-32-le"), np.uint32), offsets


def shingle_hashes(texts: pa.Array, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes (uint64) of every ``k``-character shingle of each text, concatenated, and each
    text's start offset into them (n + 1). A text shorter than ``k`` gives no shingle."""
    cps, offsets = _codepoints(texts)
    n_pos = max(len(cps) - k + 1, 0)
    h = np.zeros(n_pos, np.uint64)
    for j in range(k):
        h = h * _M1 + cps[j:j + n_pos].astype(np.uint64)
    starts = np.arange(n_pos)
    doc = np.searchsorted(offsets, starts, side="right") - 1
    valid = starts + k <= offsets[doc + 1]
    counts = np.maximum(np.diff(offsets) - k + 1, 0)
    out_offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out_offsets[1:])
    return _mix(h[valid]), out_offsets


def _distinct(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a mask: faster than ``np.unique``'s hashing here)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _perm_coefficients(p: SimilarityParams) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(p.seed)
    a = rng.integers(1, 2**63, p.num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, p.num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(texts: pa.Array, p: SimilarityParams) -> np.ndarray:
    """MinHash signatures (n, num_perm) uint32 of texts that all have at least one shingle;
    hash function j is ``(a_j * h + b_j) mod 2**64 >> 32`` (multiply-add-shift, Dietzfelbinger
    et al. 1997), computed for a batch of texts at a time."""
    a, b = _perm_coefficients(p)
    sig = np.empty((len(texts), p.num_perm), np.uint32)
    lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
    ends = np.cumsum(lengths)
    start = 0
    while start < len(texts):
        stop = int(np.searchsorted(ends, ends[start] - lengths[start] + p.batch_chars, "right"))
        stop = max(stop, start + 1)
        h, off = shingle_hashes(texts.slice(start, stop - start), p.shingle)
        tmp = np.empty(len(h), np.uint64)
        for j in range(p.num_perm):
            np.multiply(h, a[j], out=tmp)
            tmp += b[j]
            tmp >>= np.uint64(32)
            sig[start:stop, j] = np.minimum.reduceat(tmp, off[:-1])
        start = stop
    return sig


def _signature_matrix(sigs: pa.Array, width: int, dtype: type = np.uint32) -> np.ndarray:
    """Fixed-width binary values (``width`` numbers of ``dtype`` each) as an (n, width)
    matrix."""
    arr = sigs.cast(pa.binary())
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]] if len(arr) else b""
    return np.frombuffer(data, dtype).reshape(len(arr), width)


def _fixed_width(data: bytes, n: int, type_: pa.DataType = pa.binary()) -> pa.Array:
    """``n`` values of equal width (binary or string) cut from ``data``: the inverse of
    :func:`_signature_matrix`."""
    width = len(data) // n if n else 0
    return pa.Array.from_buffers(type_, n, [
        None, pa.py_buffer(np.arange(n + 1, dtype=np.int32) * width), pa.py_buffer(data)])


def signatures_function(texts: pa.Array, *, p: SimilarityParams) -> pa.Array:
    """Engine function: each normalised text's MinHash signature as ``4 * num_perm`` bytes,
    NULL for a text with fewer than ``p.min_shingles`` shingles (matched exactly only)."""
    long_enough = (pc.utf8_length(texts).to_numpy(zero_copy_only=False) - p.shingle + 1
                   >= p.min_shingles)
    sig = np.zeros((len(texts), p.num_perm), np.uint32)
    if long_enough.any():
        sig[long_enough] = minhash_signatures(texts.filter(pa.array(long_enough)), p)
    return pc.if_else(pa.array(long_enough), _fixed_width(sig.tobytes(), len(texts)),
                      pa.scalar(None, pa.binary()))


def band_keys_function(sigs: pa.Array, *, p: SimilarityParams) -> pa.Array:
    """Engine function: each signature's LSH bucket in every band (a 64-bit hash of the band's
    rows), as 16 hex digits a band, band after band: one call per text, not per band."""
    sig = _signature_matrix(sigs, p.num_perm)
    rows = p.num_perm // p.bands
    key = np.zeros((len(sig), p.bands), np.uint64)
    for r in range(rows):
        key = _mix(key * _M1 + sig[:, r::rows].astype(np.uint64))
    return _fixed_width(key.astype(">u8").tobytes().hex().encode("ascii"), len(sig), pa.string())


def sketch_function(sigs: pa.Array, *, p: SimilarityParams) -> pa.Array:
    """Engine function: a signature's sketch, the low byte of each hash (``num_perm`` bytes):
    two sketches agree where the signatures do, and by chance on 1/256 of the rest."""
    low = _signature_matrix(sigs, p.num_perm).astype(np.uint8)
    return _fixed_width(low.tobytes(), len(low))


def sketches_agree_function(sketch_a: pa.Array, sketch_b: pa.Array, *,
                            p: SimilarityParams) -> pa.Array:
    """Engine function: whether two sketches agree on at least ``threshold - 0.15`` of the
    hash functions (3 standard errors of the estimate at J = 0.4 with 96 functions; the
    sketch's chance agreements add at most 0.004): the candidates worth the exact check."""
    a, b = (_signature_matrix(x, p.num_perm, np.uint8) for x in (sketch_a, sketch_b))
    return pa.array((a == b).mean(1) >= p.threshold - 0.15)


def near_duplicate_function(idx_a: pa.Array, idx_b: pa.Array, text_a: pa.Array,
                            text_b: pa.Array, *, p: SimilarityParams) -> pa.Array:
    """Engine function: whether two normalised texts (numbered ``idx``) reach ``threshold``
    in exact shingle Jaccard similarity; a text in several pairs of a batch is shingled
    once."""
    idx = np.concatenate([idx_a.to_numpy(), idx_b.to_numpy()])
    _, first, local = np.unique(idx, return_index=True, return_inverse=True)
    texts = pa.concat_arrays([text_a, text_b]).take(pa.array(first))
    pairs = local.reshape(2, -1).T
    return pa.array(exact_jaccard(texts, pairs, p.shingle) >= p.threshold)


def similar_pairs(db: Backend, ranked: str, p: SimilarityParams) -> np.ndarray:
    """(m, 2) int64 pairs (i, j), i < j, of the texts of ``ranked`` (columns ``idx`` BIGINT,
    their rank, and ``norm``, the normalised text) that are near-duplicates: MinHash-LSH
    candidates (each bucket's member paired with at most ``bucket_leaders`` members ranked
    before it), verified."""
    for name, fn, args, returns in (
            ("swarmscope_minhash", signatures_function, ["VARCHAR"], "BLOB"),
            ("swarmscope_band_keys", band_keys_function, ["BLOB"], "VARCHAR"),
            ("swarmscope_sketch", sketch_function, ["BLOB"], "BLOB"),
            ("swarmscope_sketches_agree", sketches_agree_function, ["BLOB", "BLOB"], "BOOLEAN"),
            ("swarmscope_near_duplicate", near_duplicate_function,
             ["BIGINT", "BIGINT", "VARCHAR", "VARCHAR"], "BOOLEAN")):
        db.register_function(name, partial(fn, p=p), args, returns)
    db.materialise("similar_text_signatures",
                   f"SELECT idx, swarmscope_minhash(norm) AS sig FROM {ranked}")
    db.materialise("similar_text_band_keys", """
        SELECT idx, swarmscope_band_keys(sig) AS keys, swarmscope_sketch(sig) AS sketch
        FROM similar_text_signatures WHERE sig IS NOT NULL""")
    db.materialise("similar_text_buckets", f"""
        SELECT band, key, idx, row_number() OVER (PARTITION BY band, key ORDER BY idx) AS r
        FROM (SELECT o.band, substr(k.keys, 16 * o.band + 1, 16) AS key, k.idx
              FROM similar_text_band_keys k,
                   {db.dialect.offsets(0, p.bands - 1, 'o', 'band')}) b""")
    db.materialise("similar_text_candidates", f"""
        SELECT DISTINCT l.idx AS a, m.idx AS b
        FROM similar_text_buckets l JOIN similar_text_buckets m
             ON m.band = l.band AND m.key = l.key AND l.r < m.r
        WHERE l.r <= {int(p.bucket_leaders)}""")
    db.materialise("similar_text_close", """
        SELECT a, b FROM (
            SELECT c.a, c.b, swarmscope_sketches_agree(sa.sketch, sb.sketch) AS agree
            FROM similar_text_candidates c
            JOIN similar_text_band_keys sa ON sa.idx = c.a
            JOIN similar_text_band_keys sb ON sb.idx = c.b) s
        WHERE agree""")
    db.materialise("similar_text_verified", f"""
        SELECT c.a, c.b, swarmscope_near_duplicate(c.a, c.b, ta.norm, tb.norm) AS near_duplicate
        FROM similar_text_close c
        JOIN {ranked} ta ON ta.idx = c.a JOIN {ranked} tb ON tb.idx = c.b""")
    pairs = db.to_arrow("SELECT a, b FROM similar_text_verified WHERE near_duplicate ORDER BY a, b")
    db.drop("similar_text_signatures", "similar_text_band_keys", "similar_text_buckets",
            "similar_text_candidates", "similar_text_close", "similar_text_verified")
    return np.stack([pairs["a"].to_numpy(), pairs["b"].to_numpy()], 1).astype(np.int64)


def exact_jaccard(texts: pa.Array, pairs: np.ndarray, k: int,
                  chunk: int = 2_000_000) -> np.ndarray:
    """Exact Jaccard similarity of the ``k``-shingle sets of each pair (i, j) of ``texts``."""
    docs, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(pairs.shape)
    h, off = shingle_hashes(texts.take(pa.array(docs)), k)
    doc = np.repeat(np.arange(len(docs), dtype=np.uint64), np.diff(off))
    # distinct shingles per text, as (text << 32 | 32-bit hash), sorted
    keyed = _distinct(doc << np.uint64(32) | (h >> np.uint64(32)))
    d_of = (keyed >> np.uint64(32)).astype(np.int64)
    s_off = np.searchsorted(d_of, np.arange(len(docs) + 1))
    sizes = np.diff(s_off)
    low = keyed & np.uint64(0xFFFFFFFF)
    out = np.empty(len(pairs))
    per_pair = sizes[local[:, 0]] + sizes[local[:, 1]]
    bounds = np.searchsorted(np.cumsum(per_pair), np.arange(0, per_pair.sum() + chunk, chunk))
    bounds = np.unique(np.concatenate([[0], bounds, [len(pairs)]]))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sel = local[lo:hi]
        both = []
        for side in (0, 1):
            s, e = s_off[sel[:, side]], s_off[sel[:, side] + 1]
            idx = np.repeat(s - np.cumsum(np.r_[0, (e - s)[:-1]]), e - s) + np.arange((e - s).sum())
            pair_ix = np.repeat(np.arange(hi - lo, dtype=np.uint64), e - s)
            both.append(pair_ix << np.uint64(32) | low[idx])
        merged = np.sort(np.concatenate(both))
        dup = merged[1:] == merged[:-1]
        inter = np.bincount((merged[1:][dup] >> np.uint64(32)).astype(np.int64),
                            minlength=hi - lo)
        union = per_pair[lo:hi] - inter
        out[lo:hi] = inter / np.maximum(union, 1)
    return out


def centre_clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """CENTER clustering of ``n`` items ranked by index (0 first) given similar pairs (i, j),
    i < j: returns each item's centre. An item none of whose earlier neighbours is a centre is
    a centre; every other item joins its earliest neighbouring centre. Computed in rounds,
    each vectorised over the pairs; the rounds follow the longest chain of dependencies."""
    UNDECIDED, CENTRE, MEMBER = 0, 1, 2
    state = np.zeros(n, np.int8)
    has_earlier = np.zeros(n, bool)
    has_earlier[pairs[:, 1]] = True
    state[~has_earlier] = CENTRE
    centre = np.arange(n, dtype=np.int64)
    while (state == UNDECIDED).any():
        a, b = pairs[:, 0], pairs[:, 1]
        pending = state[b] == UNDECIDED
        joins = pending & (state[a] == CENTRE)
        best = np.full(n, n, np.int64)
        np.minimum.at(best, b[joins], a[joins])
        blocked = np.zeros(n, bool)
        blocked[b[pending & (state[a] == UNDECIDED)]] = True
        newly_member = (state == UNDECIDED) & (best < n)
        centre[newly_member] = best[newly_member]
        newly_centre = (state == UNDECIDED) & (best == n) & ~blocked
        state[newly_member] = MEMBER
        state[newly_centre] = CENTRE
    return centre


def centres(db: Backend, ranked: str, p: SimilarityParams,
            extra_pairs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The texts of ``ranked`` (``idx``, ``norm``; rank 0 or 1 first) that join another's
    cluster, and that text's centre, as two arrays of ``idx`` (every other text is its own
    centre): :func:`similar_pairs` clustered by :func:`centre_clusters` and
    :func:`_reach`, on the texts that have a near-duplicate only. ``extra_pairs`` (i, j),
    i < j, are similar too (paraphrases, see :mod:`swarmscope.traces.paraphrase`)."""
    pairs = similar_pairs(db, ranked, p)
    if extra_pairs is not None and len(extra_pairs):
        pairs = np.unique(np.concatenate([pairs, extra_pairs]), axis=0)
    involved = np.unique(pairs)
    local = np.searchsorted(involved, pairs)

    def texts_of(ids: np.ndarray) -> pa.Array:
        db.register_arrow("similar_text_wanted", pa.table({
            "idx": involved[ids], "i": np.arange(len(ids))}))
        texts = db.to_arrow(f"SELECT r.norm FROM similar_text_wanted w "
                            f"JOIN {ranked} r ON r.idx = w.idx ORDER BY w.i")["norm"]
        db.drop("similar_text_wanted")
        return texts.combine_chunks()

    centre = _reach(local, centre_clusters(len(involved), local), p, texts_of)
    moved = centre != np.arange(len(involved))
    return involved[moved], involved[centre[moved]]


def near_duplicate_centres(texts: pa.Array, p: SimilarityParams = SimilarityParams(),
                           extra_pairs: np.ndarray | None = None) -> np.ndarray:
    """For distinct normalised ``texts`` ranked by importance (index 0 first), each text's
    centre (an index into ``texts``): texts with the same centre are near-duplicates.
    Texts with fewer than ``p.min_shingles`` shingles match exactly only; :func:`centres` on
    an in-memory DuckDB.

    >>> t = normalize(["the quick brown fox jumps over the lazy dog",
    ...                "the quick brown fox jumped over the lazy dog",
    ...                "a completely different sentence about cats"])
    >>> near_duplicate_centres(t).tolist()
    [0, 0, 2]
    """
    import duckdb
    from swarmscope.store.backend import DuckDBBackend
    db = DuckDBBackend(duckdb.connect())
    db.register_arrow("ranked_texts", pa.table({"idx": np.arange(len(texts)), "norm": texts}))
    moved, centre = centres(db, "ranked_texts", p, extra_pairs)
    out = np.arange(len(texts))
    out[moved] = centre
    return out


def _reach(pairs: np.ndarray, centre: np.ndarray, p: SimilarityParams,
           texts_of: Callable[[np.ndarray], pa.Array]) -> np.ndarray:
    """A text left alone by CENTER but similar to a member of a cluster joins the earliest such
    cluster whose centre it resembles at ``reach_threshold`` (one exact check each, on the
    texts ``texts_of`` gives for the items checked)."""
    n = len(centre)
    alone = np.bincount(centre, minlength=n) == 1
    links = []
    for x, y in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0])):
        sel = alone[x] & (centre[x] == x) & (centre[y] != y)
        links.append(centre[y[sel]].astype(np.uint64) << np.uint64(32) | x[sel].astype(np.uint64))
    links = _distinct(np.concatenate(links))
    if not len(links):
        return centre
    links = np.stack([(links >> np.uint64(32)).astype(np.int64),
                      (links & np.uint64(0xFFFFFFFF)).astype(np.int64)], axis=1)
    checked = np.unique(links)
    similar = exact_jaccard(texts_of(checked), np.searchsorted(checked, links), p.shingle)
    links = links[similar >= p.reach_threshold]
    best = np.full(n, n, np.int64)
    np.minimum.at(best, links[:, 1], links[:, 0])
    joined = best < n
    out = centre.copy()
    out[joined] = best[joined]
    return out


def build_similar_text_objects(db: Backend, source: str,
                               p: SimilarityParams = SimilarityParams()) -> int:
    """Cluster the texts of ``source`` (SQL giving ``post BIGINT, text VARCHAR, ts BIGINT`` in
    ms) into the temp table ``similar_text_objects(post, object)``: ``object`` is the
    normalised text of the post's cluster centre. Exact duplicates are clustered once; texts
    rank by how often they were posted (then by first post), so the most-posted version of a
    copypasta is its centre. With ``p.semantic``, paraphrases first posted in the same
    ``p.semantic_bucket_seconds`` join too. Returns the number of distinct texts."""
    db.register_function("swarmscope_normalize", normalize, ["VARCHAR"], "VARCHAR")
    db.materialise("similar_text_norm", f"SELECT post, ts, swarmscope_normalize(text) AS norm "
                                        f"FROM ({source}) s WHERE text IS NOT NULL")
    bucket_ms = int(p.semantic_bucket_seconds * 1000)
    db.materialise_numbered("similar_text_ranked", f"""
        SELECT norm, -count(*) AS posted, min(post) AS first_post,
               {db.dialect.int_div('min(ts)', str(bucket_ms))} AS bucket
        FROM similar_text_norm WHERE norm <> '' GROUP BY norm""",
        ["posted", "first_post", "norm"], "idx")
    extra = None
    if p.semantic is not None:
        from swarmscope.traces.paraphrase import paraphrase_pairs
        ranked = db.to_arrow("SELECT norm, bucket FROM similar_text_ranked ORDER BY idx")
        extra = paraphrase_pairs(ranked["norm"].to_pylist(), ranked["bucket"].to_numpy(),
                                 p.semantic) + 1   # positions to ranks, which start at 1
    with db.step("similar_text.centres"):
        moved, centre = centres(db, "similar_text_ranked", p, extra)
    db.register_arrow("similar_text_moved", pa.table({"idx": moved, "centre": centre}))
    db.materialise("similar_text_objects", """
        SELECT n.post, coalesce(c.object, n.norm) AS object
        FROM similar_text_norm n LEFT JOIN (
            SELECT m.norm AS member, c.norm AS object FROM similar_text_moved v
            JOIN similar_text_ranked m ON m.idx = v.idx
            JOIN similar_text_ranked c ON c.idx = v.centre) c ON c.member = n.norm
        WHERE n.norm <> ''""")
    texts = db.scalar("SELECT count(*) FROM similar_text_ranked")
    db.drop("similar_text_norm", "similar_text_ranked", "similar_text_moved")
    return texts
