"""Working time zones: the UTC offset that best explains a daily rhythm, and claimed zones.

A rhythm (24 post counts by UTC hour) is compared, by Pearson correlation, with two templates of
a local day shifted by every whole offset from -11 to +12 h:

- ``office``: active 09:00-17:00 local, idle otherwise (a working day; the rhythm of staff);
- ``day``: idle 00:00-07:00 local, active otherwise (a night's sleep centred at 03:30, the
  rhythm of a private person; cf. the sleep-gap time-zone inference of Ghosh et al. 2011 and
  its use on troll farms' office hours).

The best (template, offset) is the inferred zone; ``zone_fit`` is its correlation. A
rhythm flat over the day (a round-the-clock bot, a shift cluster taken as a whole) fits
neither: its fit is low. Limits: whole hours only; daylight saving time is not modelled; a
night worker's zone reads 8-12 h off.

Claimed zones come from ``accounts.reported_location`` through ``PLACES``, a small built-in
table of countries and large cities with their standard-time UTC offset (whole-word,
case-insensitive match; the longest name found wins; a US-wide "USA" and ambiguous names such
as "Georgia" are left out). A mismatch is an inferred zone at least ``MISMATCH_HOURS`` from the
claimed one, with ``mismatch_strength`` = the fit at the inferred zone minus the best fit
within an hour of the claimed zone (same template): how much better the inferred zone explains
the rhythm.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

OFFSETS = np.arange(-11, 13)
TEMPLATES = {"office": np.isin(np.arange(24), np.arange(9, 17)).astype(float),
             "day": (np.arange(24) >= 7).astype(float)}
#: Inferred and claimed zones this many hours apart (or more) are a mismatch.
MISMATCH_HOURS = 2.0
#: A mismatch needs a rhythm that fits its inferred zone this well, and this many posts.
MIN_FIT, MIN_ZONE_POSTS = 0.5, 20

#: Standard-time UTC offsets of countries and large cities, by lower-case name.
PLACES = {
    0.0: "united kingdom|uk|england|scotland|wales|london|manchester|ireland|dublin|portugal|"
         "lisbon|ghana|accra|iceland|reykjavik|morocco|casablanca",
    1.0: "france|paris|germany|deutschland|berlin|munich|hamburg|spain|madrid|barcelona|italy|"
         "rome|milan|netherlands|amsterdam|belgium|brussels|poland|warsaw|nigeria|lagos|sweden|"
         "stockholm|norway|oslo|austria|vienna|switzerland|zurich|geneva|czech republic|prague|"
         "serbia|belgrade|hungary|budapest|denmark|copenhagen|croatia|zagreb|algeria|tunisia",
    2.0: "ukraine|kyiv|kiev|greece|athens|romania|bucharest|egypt|cairo|israel|jerusalem|"
         "tel aviv|finland|helsinki|south africa|johannesburg|cape town|lebanon|beirut|"
         "bulgaria|sofia|lithuania|vilnius|latvia|riga|estonia|tallinn|moldova|libya",
    3.0: "russia|россия|moscow|москва|saint petersburg|st petersburg|санкт-петербург|turkey|"
         "türkiye|istanbul|ankara|saudi arabia|riyadh|iraq|baghdad|belarus|minsk|kenya|nairobi|"
         "qatar|doha|kuwait|syria|damascus|jordan|amman|ethiopia|addis ababa",
    3.5: "iran|tehran|تهران|ایران",
    4.0: "united arab emirates|uae|dubai|abu dhabi|azerbaijan|baku|armenia|yerevan|tbilisi|"
         "oman|muscat|samara",
    4.5: "afghanistan|kabul",
    5.0: "pakistan|karachi|islamabad|lahore|uzbekistan|tashkent|yekaterinburg",
    5.5: "india|new delhi|delhi|mumbai|bangalore|bengaluru|kolkata|chennai|hyderabad|sri lanka|"
         "colombo",
    6.0: "bangladesh|dhaka|kazakhstan|almaty|novosibirsk",
    7.0: "thailand|bangkok|vietnam|hanoi|ho chi minh|indonesia|jakarta|krasnoyarsk",
    8.0: "china|beijing|shanghai|hong kong|singapore|philippines|manila|malaysia|kuala lumpur|"
         "taiwan|taipei|perth",
    9.0: "japan|tokyo|osaka|south korea|korea|seoul|pyongyang",
    10.0: "australia|sydney|melbourne|brisbane|canberra|vladivostok",
    12.0: "new zealand|auckland|wellington",
    -3.0: "brazil|brasil|são paulo|sao paulo|rio de janeiro|argentina|buenos aires|uruguay|"
          "montevideo",
    -4.0: "venezuela|caracas|bolivia|la paz|puerto rico",
    -5.0: "new york|nyc|brooklyn|washington dc|washington, dc|boston|miami|atlanta|florida|"
          "toronto|montreal|ottawa|philadelphia|detroit|cleveland|pittsburgh|cincinnati|"
          "baltimore|virginia|ohio|michigan|new jersey|newark|richmond|jacksonville|"
          "charlotte|colombia|bogota|bogotá|peru|lima|ecuador|quito|cuba|havana",
    -6.0: "chicago|texas|dallas|houston|san antonio|austin|mexico|ciudad de méxico|st. louis|"
          "st louis|saint louis|new orleans|louisiana|milwaukee|minneapolis|nashville|"
          "memphis|kansas city|oklahoma|winnipeg|guatemala|costa rica",
    -7.0: "denver|colorado|phoenix|arizona|utah|salt lake city|albuquerque|el paso|calgary|"
          "edmonton",
    -8.0: "los angeles|california|san francisco|san diego|san jose|seattle|las vegas|"
          "vancouver|sacramento|oakland|hollywood",
    -10.0: "hawaii|honolulu",
}

from swarmscope.store.backend import Backend


def places_table() -> pa.Table:
    names = [(n, off) for off, ns in PLACES.items() for n in ns.split("|")]
    return pa.table({"place": [n for n, _ in names], "utc_offset": [o for _, o in names]})


def claimed_zones(db: Backend) -> None:
    """Fill the temp table ``claimed_zones(account, claimed_location, claimed_offset)`` for the
    fingerprinted accounts whose reported location names a place in ``PLACES``."""
    db.register_arrow("zone_places", places_table())
    db.execute("""
        CREATE OR REPLACE TEMP TABLE claimed_zones AS
        WITH loc AS (
            SELECT k.account_key AS account, any_value(a.reported_location) AS claimed_location
            FROM accounts a JOIN account_keys k USING (platform, account_id)
            WHERE a.reported_location IS NOT NULL
              AND k.account_key IN (SELECT account FROM fingerprints) GROUP BY ALL),
        hit AS (
            SELECT l.*, p.utc_offset, length(p.place) AS len FROM loc l JOIN zone_places p
            ON regexp_matches(lower(l.claimed_location),
                              '(^|[^[:alpha:]])' || p.place || '($|[^[:alpha:]])'))
        SELECT account, claimed_location,
               arg_max(utc_offset, len * 100 - utc_offset) AS claimed_offset
        FROM hit GROUP BY ALL""")
    db.drop("zone_places")


def _fits(hours: np.ndarray) -> np.ndarray:
    """Correlation of each rhythm (rows of 24 UTC-hour counts) with each template at each
    offset: shape (rows, templates, offsets); NaN for a rhythm without variation."""
    x = hours - hours.mean(axis=1, keepdims=True)
    x /= np.where((norm := np.linalg.norm(x, axis=1, keepdims=True)) > 0, norm, np.nan)
    utc = np.arange(24)
    shifted = np.stack([np.stack([t[(utc + o) % 24] for o in OFFSETS]) for t in TEMPLATES.values()])
    shifted -= shifted.mean(axis=2, keepdims=True)
    shifted /= np.linalg.norm(shifted, axis=2, keepdims=True)
    return np.einsum("ah,toh->ato", x, shifted)


def infer_zones(hours: np.ndarray, claimed: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The inferred zone of each rhythm (rows of 24 post counts by UTC hour): ``zone_offset``,
    ``zone_rhythm`` (template name), ``zone_fit``; with ``claimed`` offsets (NaN where none),
    also ``zone_gap_hours`` and ``mismatch_strength`` (see the module docstring)."""
    fits = _fits(np.asarray(hours, dtype=float))
    flat = np.nan_to_num(fits, nan=-2).reshape(len(fits), fits.shape[1] * fits.shape[2])
    best = flat.argmax(axis=1)
    t, o = np.divmod(best, len(OFFSETS))
    fit = flat[np.arange(len(fits)), best]
    valid = fit > -2
    out = {"zone_offset": np.where(valid, OFFSETS[o], np.nan),
           "zone_rhythm": np.where(valid, np.array(list(TEMPLATES))[t], None),
           "zone_fit": np.where(valid, fit, np.nan)}
    if claimed is not None:
        claimed = np.asarray(claimed, dtype=float)
        gap = np.abs(out["zone_offset"] - claimed) % 24
        out["zone_gap_hours"] = np.minimum(gap, 24 - gap)
        near = np.abs(((OFFSETS[None, :] - claimed[:, None]) + 12) % 24 - 12) <= 1
        at_claim = np.where(near, flat.reshape(fits.shape)[np.arange(len(fits)), t], -2).max(axis=1)
        out["mismatch_strength"] = np.where(np.isnan(claimed) | ~valid, np.nan,
                                            np.clip(fit - at_claim, 0, None))
    return out


def active_span(hours: np.ndarray, share: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """The shortest run of consecutive UTC hours (wrapping at midnight) holding ``share`` of each
    rhythm's posts: its first hour and its length in hours."""
    hours = np.asarray(hours, dtype=float)
    csum = np.concatenate([np.zeros((len(hours), 1)), np.cumsum(np.tile(hours, 2), axis=1)],
                          axis=1)
    need = share * hours.sum(axis=1)
    start = np.zeros(len(hours), np.int64)
    length = np.full(len(hours), 24, np.int64)
    found = np.zeros(len(hours), bool)
    for span in range(1, 25):  # 24 steps over all accounts at once
        sums = csum[:, span:span + 24] - csum[:, :24]
        ok = ~found & (sums.max(axis=1) >= need - 1e-9)
        start[ok], length[ok] = sums[ok].argmax(axis=1), span
        found |= ok
    return start, length


def account_zones(db: Backend) -> None:
    """Fill the temp table ``account_zones``: per fingerprinted account its active span, inferred
    zone, claimed zone and mismatch (columns in the module docstring)."""
    claimed_zones(db)
    t = db.to_arrow("""
        SELECT f.account, f.posts, f.hour_of_day, c.claimed_location, c.claimed_offset
        FROM fingerprints f LEFT JOIN claimed_zones c USING (account)
        ORDER BY f.account""")
    hours = np.array(t.column("hour_of_day").to_pylist(), dtype=float).reshape(-1, 24)
    claimed = t.column("claimed_offset").to_numpy(zero_copy_only=False).astype(float)
    zones = infer_zones(hours, claimed)
    start, length = active_span(hours)
    posts = t.column("posts").to_numpy()
    mismatch = ((zones["zone_gap_hours"] >= MISMATCH_HOURS) & (zones["zone_fit"] >= MIN_FIT)
                & (posts >= MIN_ZONE_POSTS) & (zones["mismatch_strength"] > 0))
    result = pa.table({
        "account": t.column("account"), "active_start_utc": start, "active_hours": length,
        **{k: pa.array(v, from_pandas=True) for k, v in zones.items()},
        "claimed_location": t.column("claimed_location"),
        "claimed_offset": t.column("claimed_offset"), "zone_mismatch": mismatch})
    db.register_arrow("zones_arrow", result)
    db.execute("CREATE OR REPLACE TEMP TABLE account_zones AS SELECT * FROM zones_arrow")
    db.drop("zones_arrow")
