"""Near-duplicate text clustering (the ``similar_text`` trace kind): speed, memory, recall of
planted near-duplicates and precision of found pairs, per language.

A benchmark, not a test. Run from the repository root with the project's virtual environment::

    .venv/bin/python bench/similar_text.py [--n 1000000] [--per-lang 1000] [--threads 2]
        [--threshold T] [--shingle K] [--num-perm P] [--bands B] [--sample 500]

Prints one JSON object per line on stdout (``"bench"`` names what the line is).

Corpus: the ``content`` of up to ``--n`` real IRA tweets (../shared/data/ira/ira_tweets.parquet;
originals first, then quotes and retweets, in file order), plus a Persian background of 20,000
sentences drawn from the word list below (the release has no Persian). Planted near-duplicates:
per language ``--per-lang`` base texts of at least 40 normalised characters, each with three
variants whose characters were edited at random (a substitution, insertion or deletion, with
letters of the base's own alphabet) at 5, 10 and 20 % of its length: en, ru and ar bases are
real IRA originals (English, Russian, Arabic), fa bases are drawn from the word list.

- ``timing``: wall time, CPU time (user + system: on a shared machine the wall time also
  counts other work) and peak memory (``ru_maxrss`` of the whole process, which holds the
  corpus itself: ``rss_before_mib``) of :func:`build_similar_text_objects` (normalisation,
  exact dedup, MinHash-LSH, verification, clustering) on the whole corpus, through DuckDB
  with ``--threads`` threads (numpy runs on one core).
- ``recall``: per language and edit rate, the share of variants in their base's cluster.
- ``precision``: per language, a sample of ``--sample`` found pairs (a clustered text and
  another member of its cluster, distinct normalised texts, the language that of either side);
  a pair is right when the two normalised texts are alike by ``difflib``'s ratio >= 0.6 (a
  judge independent of shingles: 20 % random edits leave a ratio near 0.8, two unrelated
  tweets near 0.2-0.4).
"""

from __future__ import annotations

import argparse
import difflib
import os
import resource
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA_DIR, emit, ss  # noqa: E402
from common import IRA as IRA_FILE  # noqa: E402

SimilarityParams, normalize = ss.SimilarityParams, ss.normalize
build_similar_text_objects = ss.build_similar_text_objects

IRA = DATA_DIR / IRA_FILE
LANGS = {"English": "en", "Russian": "ru", "Arabic": "ar"}
RATES = (0.05, 0.10, 0.20)

#: Common Persian words (nouns, verbs, function words), written for this benchmark; with ZWNJ
#: in the compound verbs as Persian writes them.
PERSIAN = """
ما شما آنها این آن که را با از به در برای تا اما یا هم نیز اگر چون پس چه کجا چرا کی
مردم کشور ایران تهران دولت مجلس رئیس جمهور وزیر انتخابات رای آزادی حقوق زن مرد کودک
جوان دانشجو دانشگاه مدرسه کار کارگر حقوق‌بگیر اقتصاد تورم قیمت نان گوشت بنزین دلار ریال
بازار بانک پول فقر ثروت فساد اختلاس دادگاه زندان اعتراض تظاهرات خیابان شهر روستا استان
خبر رسانه تلویزیون روزنامه اینترنت فیلتر شبکه اجتماعی پیام ویدیو عکس حقیقت دروغ شایعه
امروز دیروز فردا شب صبح ساعت هفته ماه سال تاریخ آینده گذشته زمان جنگ صلح امنیت ارتش
سپاه پلیس مرز همسایه عراق سوریه لبنان یمن عربستان آمریکا روسیه چین اروپا تحریم برجام
هسته‌ای موشک نفت گاز برق آب هوا آلودگی زلزله سیل بیمارستان دارو پزشک بیماری واکسن
می‌خواهیم می‌گویند می‌دانیم می‌رود می‌آید نمی‌خواهیم نمی‌دانند کرد کردند شد شدند است
هستند بود بودند دارد دارند گفت گفتند آمد رفت دید خواست باید نباید توانست می‌تواند
بزرگ کوچک خوب بد زیبا سخت آسان گران ارزان تازه کهنه بیشتر کمتر همه هیچ بسیار خیلی
دوست دشمن خانواده پدر مادر برادر خواهر همسر فرزند خانه ماشین راه سفر کتاب فرهنگ هنر
ورزش فوتبال تیم بازی قهرمان مسابقه جام جهانی ملت وطن پرچم تاریخی بزرگترین نخستین
""".split()


def edit(text: str, rate: float, rng: np.random.Generator) -> str:
    """``text`` with ``round(rate * len)`` random character edits from its own alphabet."""
    chars, alphabet = list(text), sorted(set(text))
    for _ in range(max(1, round(rate * len(chars)))):
        op, i = rng.integers(3), int(rng.integers(len(chars)))
        letter = alphabet[rng.integers(len(alphabet))]
        if op == 0:
            chars[i] = letter
        elif op == 1:
            chars.insert(i, letter)
        elif len(chars) > 1:
            del chars[i]
    return "".join(chars)


def persian(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` Persian sentences of 8-20 words from :data:`PERSIAN`."""
    words = np.array(PERSIAN)
    return [" ".join(words[rng.integers(len(words), size=rng.integers(8, 21))]) for _ in range(n)]


def corpus(n: int, per_lang: int, rng: np.random.Generator):
    """Texts, their language, and planted (base index, variant index, lang, rate) rows."""
    con = duckdb.connect()
    real = con.sql(f"""SELECT content AS text, language
                       FROM read_parquet('{IRA}', file_row_number = true)
                       WHERE content IS NOT NULL
                       ORDER BY post_type = 'R', post_type = 'Q', file_row_number
                       LIMIT {int(n)}""").to_arrow_table()
    texts = real["text"].to_pylist()
    langs = [LANGS.get(x, "other") for x in real["language"].to_pylist()]
    fa_background = persian(20_000, rng)
    texts += fa_background
    langs += ["fa"] * len(fa_background)
    norm = normalize(pa.array(texts)).to_pylist()
    planted = []
    for lang in ("en", "ru", "ar", "fa"):
        pool = [i for i, (l, t) in enumerate(zip(langs, norm)) if l == lang and len(t) >= 40
                and (lang != "fa" or i >= len(texts) - len(fa_background))]
        chosen = rng.choice(len(pool), size=min(per_lang, len(pool)), replace=False)
        for i in (pool[c] for c in chosen):
            for rate in RATES:
                texts.append(edit(norm[i], rate, rng))
                langs.append(lang)
                planted.append((i, len(texts) - 1, lang, rate))
    return texts, langs, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--per-lang", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    defaults = SimilarityParams()
    for name in ("threshold", "shingle", "num_perm", "bands"):
        ap.add_argument("--" + name.replace("_", "-"), type=type(getattr(defaults, name)),
                        default=getattr(defaults, name))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    params = SimilarityParams(threshold=args.threshold, shingle=args.shingle,
                              num_perm=args.num_perm, bands=args.bands)
    texts, langs, planted = corpus(args.n, args.per_lang, rng)
    emit({"bench": "corpus", "texts": len(texts), "planted": len(planted),
          "by_lang": {l: langs.count(l) for l in sorted(set(langs))}})

    con = duckdb.connect(config={"threads": args.threads})
    con.register("docs", pa.table({"post": np.arange(len(texts)), "text": pa.array(texts),
                                   "ts": np.zeros(len(texts), np.int64)}))
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    distinct = build_similar_text_objects(con, "SELECT post, text, ts FROM docs", params)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    rss, rss0 = after.ru_maxrss, before.ru_maxrss
    emit({"bench": "timing", "texts": len(texts), "distinct": distinct,
          "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
          "load_avg_1min": os.getloadavg()[0], "peak_rss_mib": round(rss / 1024),
          "rss_before_mib": round(rss0 / 1024), "threads": args.threads,
          "params": vars(params)})

    objects = dict(con.sql("SELECT post, object FROM similar_text_objects").fetchall())
    hits: dict[tuple[str, float], list[bool]] = {}
    for base, variant, lang, rate in planted:
        same = objects.get(base) is not None and objects.get(base) == objects.get(variant)
        hits.setdefault((lang, rate), []).append(same)
    for (lang, rate), h in sorted(hits.items()):
        emit({"bench": "recall", "lang": lang, "edit_rate": rate,
              "recall": round(float(np.mean(h)), 3), "n": len(h)})

    norms = normalize(pa.array(texts)).to_pylist()
    by_object: dict[str, list[int]] = {}
    seen: set[str] = set()
    for post, obj in objects.items():
        if norms[post] not in seen:
            seen.add(norms[post])
            by_object.setdefault(obj, []).append(post)
    groups = [g for g in by_object.values() if len(g) > 1]
    for lang in ("en", "ru", "ar", "fa"):
        pairs = [(a, b) for g in groups for a in g for b in g[:1] + g[1:2]
                 if a != b and lang in (langs[a], langs[b])]
        if not pairs:
            emit({"bench": "precision", "lang": lang, "found_pairs": 0})
            continue
        pick = rng.choice(len(pairs), size=min(args.sample, len(pairs)), replace=False)
        ok = [difflib.SequenceMatcher(None, norms[pairs[i][0]], norms[pairs[i][1]],
                                      autojunk=False).ratio() >= 0.6 for i in pick]
        emit({"bench": "precision", "lang": lang, "found_pairs": len(pairs),
              "sampled": len(ok), "precision": round(float(np.mean(ok)), 3)})


if __name__ == "__main__":
    sys.exit(main())
