"""The demo company: a deterministic omnichannel retailer with planted ground truth.

"Nordwind Living" sells fashion, home and beauty goods online, in an app, by phone and in stores
in Germany, Austria, Switzerland, the UK and the Netherlands, and runs a loyalty membership
(cancelling it is contractual churn). :func:`generate` returns the five contract tables and the
truth that analyses should recover:

- four latent behavioural segments (``customer_truth["segment"]``);
- the per-channel effect on the first purchase and each channel's exact expected contribution
  (expected purchases lost if the channel were removed);
- the stage after which most prospects drop out of the pre-purchase funnel;
- the touchpoint ratings that drive NPS and their coefficients, comment themes, the
  population NPS per survey wave (respondents are a biased sample);
- each experiment's true conversion rates, relative lifts, per-segment rates and a planted
  sample-ratio mismatch;
- the churn drivers (per standard deviation of the latent trait) and the BG/NBD /
  Gamma-Gamma parameters of repeat purchasing and spend.

Generation is vectorised and proceeds in fixed blocks of :data:`CHUNK` customers, each with its
own random stream, so the data for ``n`` customers do not depend on how they are written:
:func:`generate` concatenates the blocks in memory, :func:`write_parquet` writes them one by one
(1 million customers without holding everything in memory twice).

Examples
--------
>>> from cjlab.data.synth import generate
>>> demo = generate(n_customers=500, seed=1)
>>> sorted(demo.tables)
['customers', 'experiment_exposures', 'orders', 'survey_responses', 'touchpoints']
>>> demo.truth["funnel"]["biggest_drop_after"]
'comparison'
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data import synth_campaigns, synth_journey
from cjlab.data.contract import STAGES

CHUNK = 25_000
START = np.datetime64("2024-01-01T00:00:00", "s")
END = np.datetime64("2025-12-31T23:59:59", "s")
N_DAYS = 731.0
DAY = 86_400

SEGMENTS = ("bargain_hunters", "loyal_regulars", "occasional_browsers", "premium_shoppers")
SEGMENT_SHARES = np.array([0.30, 0.25, 0.30, 0.15])
SEGMENT_DESCRIPTIONS = {
    "bargain_hunters": "mobile, promotion-driven, seasonal, social/display",
    "loyal_regulars": "app users, frequent buyers, e-mail engaged",
    "occasional_browsers": "desktop, search-led, rare purchases",
    "premium_shoppers": "high spend, store and phone, few promotions",
}
MARKETING_CHANNELS = ("paid_search", "social", "display", "email", "web")
#: Probability that one touch on a channel triggers the first purchase (noisy-OR model).
CHANNEL_EFFECT = {"paid_search": 0.20, "email": 0.14, "web": 0.09, "social": 0.06, "display": 0.03}
BASE_PURCHASE = 0.03
# channel mix of pre-purchase touches per segment (rows follow SEGMENTS, columns MARKETING_CHANNELS)
CHANNEL_MIX = np.array([
    [0.15, 0.35, 0.25, 0.15, 0.10],
    [0.15, 0.10, 0.05, 0.40, 0.30],
    [0.45, 0.10, 0.10, 0.05, 0.30],
    [0.35, 0.10, 0.15, 0.15, 0.25],
])
#: Where non-purchasers stop (share of non-purchasers whose furthest stage is this one).
DROPOFF = {"awareness": 0.15, "information": 0.20, "comparison": 0.50, "persuasion": 0.15}
POST_PURCHASE_STEP = {"logistics": 1.0, "onboarding": 0.85, "support": 0.65, "loyalty": 0.70,
                      "upsell": 0.55, "cross_sell": 0.60}
COUNTRIES = ("DE", "AT", "CH", "GB", "NL")
COUNTRY_P = np.array([0.55, 0.15, 0.12, 0.10, 0.08])
# per segment: mobile share of non-app web touches, baseline app share, promo probability,
# satisfaction mean, BG/NBD (r, alpha [weeks], a, b), Gamma-Gamma mean spend, order channel mix
SEG_MOBILE = np.array([0.75, 0.45, 0.25, 0.35])
SEG_APP = np.array([0.15, 0.55, 0.05, 0.15])
SEG_PROMO = np.array([0.55, 0.15, 0.25, 0.05])
SEG_SAT = np.array([-0.2, 0.5, 0.0, 0.2])
BGNBD = {  # r, alpha (weeks), a, b
    "bargain_hunters": (1.2, 8.0, 1.0, 4.0),
    "loyal_regulars": (2.0, 6.5, 1.0, 9.0),
    "occasional_browsers": (0.8, 16.0, 1.0, 3.0),
    "premium_shoppers": (1.5, 12.0, 1.0, 6.0),
}
GG_P, GG_Q = 6.0, 4.0
SEG_SPEND = np.array([35.0, 60.0, 45.0, 150.0])  # E[mean spend per order]
ORDER_CHANNELS = ("online", "phone", "store")
ORDER_CHANNEL_MIX = np.array([[0.92, 0.03, 0.05], [0.85, 0.05, 0.10], [0.90, 0.04, 0.06],
                              [0.45, 0.20, 0.35]])
CATEGORIES = ("fashion", "home", "beauty", "electronics", "sports")
CATEGORY_MIX = np.array([[0.40, 0.15, 0.25, 0.10, 0.10], [0.25, 0.30, 0.25, 0.05, 0.15],
                         [0.20, 0.30, 0.10, 0.30, 0.10], [0.35, 0.35, 0.15, 0.10, 0.05]])
#: Churn: hazard of cancelling the membership, log-hazard coefficient per SD of a latent trait.
CHURN_DRIVERS = {"support_tickets": 0.70, "promo_share": 0.45, "app_share": -0.30, "satisfaction": -0.20}
CHURN_BASE_PER_YEAR = 0.22
SUPPORT_RATE_PER_YEAR = 0.9
# Survey
WAVES = ("2024-06", "2024-09", "2024-12", "2025-03", "2025-06", "2025-09", "2025-12")
RATED = ("delivery", "checkout", "support", "app", "product_page", "newsletter")
NPS_DRIVERS = {"rating_delivery": 0.9, "rating_support": 0.7, "rating_checkout": 0.45,
               "rating_product_page": 0.25, "rating_app": 0.1, "rating_newsletter": 0.0}
RATING_MEAN = {"delivery": 3.7, "checkout": 3.9, "support": 3.2, "app": 3.8, "product_page": 3.9,
               "newsletter": 3.4}
RESPONSE_RATE = {"new": 0.20, "existing": 0.10, "leaving": 0.08, "returning": 0.15}

THEMES: dict[str, dict[str, list[str]]] = {
    "delivery_delay": {
        "de": ["Die Lieferung kam viel zu spät", "Lieferung verspätet, Paket kam eine Woche später",
               "Versand dauert zu lange, Lieferung verspätet"],
        "en": ["Delivery was late again", "The parcel arrived a week late, slow delivery",
               "Shipping took far too long, late delivery"],
    },
    "support_unhelpful": {
        "de": ["Der Kundenservice war unfreundlich und hat nicht geholfen",
               "Hotline ewig in der Warteschleife, Kundenservice unfreundlich",
               "Keine Antwort vom Kundenservice auf meine Reklamation"],
        "en": ["Customer service was rude and did not help", "Waited forever on the hotline, unhelpful support",
               "No answer from customer service about my complaint"],
    },
    "checkout_problems": {
        "de": ["Bezahlung an der Kasse hat nicht funktioniert", "Checkout abgebrochen, Zahlung fehlgeschlagen",
               "Gutschein an der Kasse nicht akzeptiert, Zahlung fehlgeschlagen"],
        "en": ["Payment failed at checkout", "Checkout kept crashing, payment error",
               "Voucher not accepted at checkout, payment failed"],
    },
    "app_crashes": {
        "de": ["Die App stürzt ständig ab", "App abgestürzt beim Bestellen, App langsam"],
        "en": ["The app keeps crashing", "App crashed while ordering, app is slow"],
    },
    "price_too_high": {
        "de": ["Preise zu hoch, woanders günstiger", "Zu teuer, mehr Rabatt bitte"],
        "en": ["Prices too high, cheaper elsewhere", "Too expensive, more discounts please"],
    },
    "quality_praise": {
        "de": ["Tolle Qualität, sehr zufrieden", "Super Qualität und schöne Produkte, gerne wieder"],
        "en": ["Great quality, very happy", "Lovely products and great quality, will buy again"],
    },
    "fast_delivery_praise": {
        "de": ["Schnelle Lieferung, alles bestens", "Blitzschneller Versand, danke"],
        "en": ["Fast delivery, everything perfect", "Super fast shipping, thank you"],
    },
}
THEME_KEYWORDS = {
    "delivery_delay": ["late", "spät", "verspätet", "delivery", "lieferung"],
    "support_unhelpful": ["service", "kundenservice", "hotline", "support", "unfreundlich", "rude"],
    "checkout_problems": ["checkout", "payment", "zahlung", "kasse"],
    "app_crashes": ["app", "crashing", "abstürzt", "abgestürzt", "crashed"],
    "price_too_high": ["prices", "preise", "expensive", "teuer", "rabatt"],
    "quality_praise": ["quality", "qualität"],
    "fast_delivery_praise": ["fast", "schnelle", "versand", "shipping"],
}
DETRACTOR_THEMES = ["delivery_delay", "support_unhelpful", "checkout_problems", "app_crashes", "price_too_high"]

EXPERIMENTS: dict[str, dict[str, Any]] = {
    "onboarding_email_v2": {
        "stage": "onboarding", "control": "control", "variants": ["control", "new_email"],
        "window": ("2025-03-01", "2025-04-15"), "coverage": 0.45,
        "segment_rates": {"desktop": {"control": 0.10, "new_email": 0.105},
                          "mobile": {"control": 0.09, "new_email": 0.108},
                          "app": {"control": 0.12, "new_email": 0.156}},
        "planned_split": {"control": 0.5, "new_email": 0.5}, "srm_loss": {},
        "revenue_mean": {"control": 55.0, "new_email": 55.0},
    },
    "checkout_layout": {
        "stage": "purchase", "control": "control", "variants": ["control", "one_page", "express"],
        "window": ("2025-06-01", "2025-07-15"), "coverage": 0.6,
        "segment_rates": {s: {"control": 0.20, "one_page": 0.23, "express": 0.20}
                          for s in ("desktop", "mobile", "app")},
        "planned_split": {"control": 1 / 3, "one_page": 1 / 3, "express": 1 / 3}, "srm_loss": {},
        "revenue_mean": {"control": 70.0, "one_page": 70.0, "express": 70.0},
    },
    "loyalty_offer": {
        "stage": "loyalty", "control": "control", "variants": ["control", "offer_10pct"],
        "window": ("2025-09-01", "2025-10-15"), "coverage": 0.5,
        "segment_rates": {s: {"control": 0.08, "offer_10pct": 0.095} for s in ("desktop", "mobile", "app")},
        "planned_split": {"control": 0.5, "offer_10pct": 0.5}, "srm_loss": {},
        "revenue_mean": {"control": 60.0, "offer_10pct": 54.0},
    },
    "push_reminder": {
        "stage": "upsell", "control": "control", "variants": ["control", "push"],
        "window": ("2025-11-01", "2025-12-10"), "coverage": 0.4,
        "segment_rates": {s: {"control": 0.05, "push": 0.05} for s in ("desktop", "mobile", "app")},
        "planned_split": {"control": 0.5, "push": 0.5}, "srm_loss": {"push": 0.10},
        "revenue_mean": {"control": 40.0, "push": 40.0},
    },
}
SEGMENT_MIX_EXPOSURES = ("desktop", "mobile", "app")

FIRST_NAMES = ("Anna", "Lukas", "Lea", "Finn", "Emma", "Paul", "Mia", "Jonas", "Sophie", "Elias",
               "Olivia", "James", "Noah", "Emily", "Daan", "Sanne", "Marie", "Felix", "Laura", "Ben")
LAST_NAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
              "Smith", "Jones", "de Jong", "Jansen", "Huber", "Gruber", "Keller", "Brown")


@dataclass
class DemoData:
    """Demo tables, planted truth and per-customer latent truth.

    Attributes
    ----------
    tables : the five contract tables (pandas DataFrames).
    truth : JSON-serialisable ground truth (see module docstring).
    customer_truth : one row per customer with the latent segment and traits.
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, Any]
    customer_truth: pd.DataFrame = field(repr=False)


def _to_ts(days: np.ndarray) -> np.ndarray:
    """Days since START (float) -> datetime64[s]."""
    return START + np.round(np.asarray(days) * DAY).astype("int64").astype("timedelta64[s]")


def _group_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a repeat by ``counts``: owner index per row and position within the owner."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.arange(len(owner)) - starts


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    u = rng.random(len(probs))[:, None]
    return (u > np.cumsum(probs, axis=1)).sum(axis=1).clip(0, probs.shape[1] - 1)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _logit(p):
    return np.log(p / (1 - p))


def _season(days: np.ndarray, birth_doy: np.ndarray | None = None) -> np.ndarray:
    """Seasonal purchase multiplier (Christmas, Black Friday week, summer dip, birthday month)."""
    dates = START + (np.asarray(days) * DAY).astype("int64").astype("timedelta64[s]")
    doy = (dates.astype("datetime64[D]") - dates.astype("datetime64[Y]")).astype(int) + 1
    m = 1.0 + 0.9 * np.exp(-(((doy - 350) / 10.0) ** 2)) + 0.8 * ((doy >= 328) & (doy <= 334))
    m = m - 0.2 * ((doy >= 190) & (doy <= 230))
    if birth_doy is not None:
        m = m + 0.5 * (np.abs(doy - birth_doy) <= 7)
    return m


SEASON_MAX = 3.2


def _rating(rng, mean: float, sat: np.ndarray) -> np.ndarray:
    latent = mean + 0.6 * sat + rng.normal(0, 0.9, len(sat))
    return np.clip(np.round(latent), 1, 5)


@dataclass
class _Chunk:
    tables: dict[str, pd.DataFrame]
    customer_truth: pd.DataFrame
    stats: dict[str, Any]


def _chunk(seed: int, index: int, first_id: int, n: int, intervention: Any = None) -> _Chunk:
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    ids = np.arange(first_id, first_id + n, dtype="int64")
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES)

    # -- latent traits ------------------------------------------------------------------
    z_support, z_promo, z_app = rng.normal(size=(3, n))
    sat = SEG_SAT[seg] + rng.normal(size=n)
    promo_p = _sigmoid(_logit(SEG_PROMO[seg]) + 0.9 * z_promo)
    app_share = _sigmoid(_logit(SEG_APP[seg]) + 1.0 * z_app)
    # acquisition: increasing over time (growth), last acquisitions 30 days before the end
    acq_day = (N_DAYS - 30) * np.sqrt(rng.random(n))
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_P)
    age_years = np.clip(rng.normal(np.array([32, 45, 40, 52])[seg], 11), 18, 85)
    birth = (np.datetime64("2025-12-31") - (age_years * 365.25).astype("int64").astype("timedelta64[D]"))
    birth_doy = (birth - birth.astype("datetime64[Y]")).astype(int) + 1
    opt_in = rng.random(n) < np.array([0.80, 0.85, 0.55, 0.65])[seg]

    # -- pre-purchase journey (awareness .. persuasion) ------------------------------------
    m = 4 + rng.poisson(1.0, n)
    owner, pos = _group_index(m)
    ch = _choice_rows(rng, CHANNEL_MIX[seg[owner]])
    w = np.array([CHANNEL_EFFECT[c] for c in MARKETING_CHANNELS])
    counts = np.zeros((n, len(MARKETING_CHANNELS)))
    np.add.at(counts, (owner, ch), 1)
    log_no = np.log1p(-BASE_PURCHASE) + counts @ np.log1p(-w)
    p_buy = 1 - np.exp(log_no)
    contribution = {c: float((p_buy - (1 - np.exp(log_no - counts[:, k] * np.log1p(-w[k])))).sum())
                    for k, c in enumerate(MARKETING_CHANNELS)}
    buys = rng.random(n) < p_buy
    furthest = np.where(buys, 3, rng.choice(4, size=n, p=list(DROPOFF.values())))
    stage_of_touch = np.minimum((4 * pos) // m[owner], 3)
    keep = stage_of_touch <= furthest[owner]
    gaps = rng.exponential(3.0, len(owner))
    gaps[pos == 0] = 0.0
    t_touch = acq_day[owner] + np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(m) - m], m)
    last_touch = np.maximum.reduceat(t_touch, np.cumsum(m) - m)
    t_first = last_touch + rng.exponential(1.0, n)
    buys &= t_first < N_DAYS
    acq_channel = np.array(MARKETING_CHANNELS)[ch[pos == 0]]

    # -- membership / contractual churn --------------------------------------------------
    lin = (CHURN_DRIVERS["support_tickets"] * z_support + CHURN_DRIVERS["promo_share"] * z_promo
           + CHURN_DRIVERS["app_share"] * z_app + CHURN_DRIVERS["satisfaction"] * (sat - SEG_SAT[seg]))
    hazard = CHURN_BASE_PER_YEAR * np.exp(lin) / 365.25
    t_cancel = t_first + rng.exponential(1 / hazard)
    cancelled = buys & (t_cancel < N_DAYS)
    active_end = np.where(cancelled, t_cancel, N_DAYS)

    # -- repeat purchases: BG/NBD with seasonal thinning, stopped by cancellation -------------
    r, alpha, a, b = (np.array([BGNBD[s][i] for s in SEGMENTS])[seg] for i in range(4))
    lam = rng.gamma(r, 1 / alpha) / 7.0  # per day
    p_drop = rng.beta(a, b)
    span = np.where(buys, active_end - t_first, 0.0)
    n_cand = rng.poisson(lam * SEASON_MAX * span)
    o_owner, _ = _group_index(n_cand)
    t_cand = t_first[o_owner] + rng.random(len(o_owner)) * span[o_owner]
    acc = rng.random(len(o_owner)) < _season(t_cand, birth_doy[o_owner]) / SEASON_MAX
    o_owner, t_cand = o_owner[acc], t_cand[acc]
    order = np.lexsort((t_cand, o_owner))
    o_owner, t_cand = o_owner[order], t_cand[order]
    n_rep = np.bincount(o_owner, minlength=n)
    _, o_pos = _group_index(n_rep)
    drop_after = rng.geometric(p_drop)  # the repeat purchase after which the customer leaves
    keep_o = (o_pos + 1) <= drop_after[o_owner]
    keep_o &= o_pos < 400
    o_owner, t_cand = o_owner[keep_o], t_cand[keep_o]
    buyers = np.flatnonzero(buys)
    ord_owner = np.concatenate([buyers, o_owner])
    ord_t = np.concatenate([t_first[buyers], t_cand])
    srt = np.lexsort((ord_t, ord_owner))
    ord_owner, ord_t = ord_owner[srt], ord_t[srt]
    n_orders = np.bincount(ord_owner, minlength=n)
    _, ord_seq = _group_index(n_orders)
    # spend: Gamma-Gamma
    gg_gamma = SEG_SPEND * (GG_Q - 1) / GG_P
    nu = rng.gamma(GG_Q, 1 / gg_gamma[seg])
    amount = rng.gamma(GG_P, 1 / nu[ord_owner])
    dates = START + (ord_t * DAY).astype("int64").astype("timedelta64[s]")
    doy = (dates.astype("datetime64[D]") - dates.astype("datetime64[Y]")).astype(int) + 1
    bf_week = (doy >= 328) & (doy <= 334)
    promo = rng.random(len(ord_owner)) < np.where(bf_week, 0.85, promo_p[ord_owner])
    discount = np.where(promo, np.round(amount * rng.uniform(0.1, 0.3, len(amount)), 2), 0.0)
    o_channel = _choice_rows(rng, ORDER_CHANNEL_MIX[seg[ord_owner]])
    category = _choice_rows(rng, CATEGORY_MIX[seg[ord_owner]])
    orders = pd.DataFrame({
        "order_id": ids[ord_owner] * 1000 + ord_seq,
        "customer_id": ids[ord_owner],
        "ts": _to_ts(ord_t),
        "amount": np.round(amount, 2),
        "channel": np.array(ORDER_CHANNELS)[o_channel],
        "product_category": np.array(CATEGORIES)[category],
        "discount": discount,
        "promo": promo,
    })

    # -- touchpoints ------------------------------------------------------------------------
    def device_for(owner_idx: np.ndarray) -> np.ndarray:
        u = rng.random(len(owner_idx))
        app = u < app_share[owner_idx]
        mobile = rng.random(len(owner_idx)) < SEG_MOBILE[seg[owner_idx]]
        return np.where(app, "app", np.where(mobile, "mobile", "desktop"))

    tp = []
    k_owner, k_ch, k_stage, k_t = owner[keep], ch[keep], stage_of_touch[keep], t_touch[keep]
    pre_touch = np.array(["ad_impression", "landing_page", "product_page", "cart"])[k_stage]
    pre_touch = np.where(np.array(MARKETING_CHANNELS)[k_ch] == "email", "newsletter_click", pre_touch)
    year = 2024 + (k_t >= 366).astype(int)
    quarter = np.minimum(((k_t % 365.25) // 91.4).astype(int) + 1, 4)
    camp = np.char.add(np.char.add(np.array(MARKETING_CHANNELS)[k_ch], "_"),
                       np.char.add(year.astype(str), np.char.add("q", quarter.astype(str))))
    tp.append(pd.DataFrame({"customer_id": ids[k_owner], "ts_days": k_t,
                            "channel": np.array(MARKETING_CHANNELS)[k_ch], "touchpoint": pre_touch,
                            "stage": np.array(STAGES)[k_stage], "device": device_for(k_owner),
                            "campaign": camp}))
    # purchase (checkout) and logistics per order
    o_dev = device_for(ord_owner)
    store = o_channel == 2
    phone = o_channel == 1
    tp.append(pd.DataFrame({
        "customer_id": ids[ord_owner], "ts_days": ord_t,
        "channel": np.where(store, "store", np.where(phone, "phone", np.where(o_dev == "app", "app", "web"))),
        "touchpoint": np.where(store, "store_purchase", "checkout"), "stage": "purchase",
        "device": np.where(store | phone, "offline", o_dev), "campaign": None}))
    tp.append(pd.DataFrame({
        "customer_id": ids[ord_owner], "ts_days": np.minimum(ord_t + rng.uniform(0.5, 4.0, len(ord_t)), N_DAYS - 1e-3),
        "channel": np.where(store, "store", "email"), "touchpoint": np.where(store, "store_pickup", "delivery"),
        "stage": "logistics", "device": np.where(store, "offline", o_dev), "campaign": None}))
    # post-purchase progression: onboarding .. cross_sell (sequential)
    reach = buys.copy()
    t_stage = t_first + 2.0
    post = {"onboarding": ("email", "welcome_email"), "support": ("web", "help_center"),
            "loyalty": ("app", "loyalty_signup"), "upsell": ("email", "upsell_offer"),
            "cross_sell": ("web", "recommendation_click")}
    furthest_post = np.where(buys, STAGES.index("logistics"), furthest)
    for stage_name, (chan, touch) in post.items():
        reach &= rng.random(n) < POST_PURCHASE_STEP[stage_name]
        t_stage = t_stage + rng.exponential(12.0, n)
        ok = reach & (t_stage < active_end)
        idx = np.flatnonzero(ok)
        furthest_post[idx] = STAGES.index(stage_name)
        dev = device_for(idx)
        tp.append(pd.DataFrame({"customer_id": ids[idx], "ts_days": t_stage[idx],
                                "channel": np.where(dev == "app", "app", chan), "touchpoint": touch,
                                "stage": stage_name, "device": dev, "campaign": None}))
    # support tickets (churn driver), during the active membership
    tickets_rate = SUPPORT_RATE_PER_YEAR * np.exp(0.8 * z_support) / 365.25
    n_tick = rng.poisson(tickets_rate * span)
    t_owner, _ = _group_index(n_tick)
    t_tick = t_first[t_owner] + rng.random(len(t_owner)) * span[t_owner]
    tick_ch = rng.choice(np.array(["call_center", "email", "phone"]), size=len(t_owner), p=[0.5, 0.3, 0.2])
    tp.append(pd.DataFrame({"customer_id": ids[t_owner], "ts_days": t_tick, "channel": tick_ch,
                            "touchpoint": "support_ticket", "stage": "support",
                            "device": np.where(tick_ch == "email", device_for(t_owner), "offline"),
                            "campaign": None}))
    # newsletter opens (e-mail engagement) for opted-in customers, while active
    engage = _sigmoid(-0.5 + 0.8 * (seg == 1) + 0.5 * (seg == 0) + 0.4 * sat)
    nl_span = np.where(opt_in, active_end - acq_day, 0.0).clip(0)
    n_nl = rng.poisson(engage * 2.0 / 30.4 * nl_span)
    nl_owner, _ = _group_index(n_nl)
    t_nl = acq_day[nl_owner] + rng.random(len(nl_owner)) * nl_span[nl_owner]
    nl_month = _to_ts(t_nl).astype("datetime64[M]").astype(str)
    tp.append(pd.DataFrame({"customer_id": ids[nl_owner], "ts_days": t_nl, "channel": "email",
                            "touchpoint": "newsletter_open",
                            "stage": np.where(buys[nl_owner] & (t_nl > t_first[nl_owner]), "loyalty",
                                              np.where(furthest[nl_owner] >= 1, "information", "awareness")),
                            "device": device_for(nl_owner),
                            "campaign": np.char.add("newsletter_", nl_month.astype(str))}))
    touch = pd.concat(tp, ignore_index=True)
    touch = touch[touch["ts_days"] < N_DAYS]
    touch = touch.sort_values(["customer_id", "ts_days"], kind="stable")
    touch.insert(1, "ts", _to_ts(touch.pop("ts_days").to_numpy()))
    touch = touch.reset_index(drop=True)

    # -- customers --------------------------------------------------------------------------
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    names = np.char.add(np.char.add(np.array(FIRST_NAMES)[first], " "), np.array(LAST_NAMES)[last])
    emails = np.char.add(np.char.add(np.char.lower(np.array(FIRST_NAMES)[first]), "."),
                         np.char.add(ids.astype(str), "@example.com"))
    customers = pd.DataFrame({
        "customer_id": ids,
        "first_seen": _to_ts(acq_day).astype("datetime64[D]"),
        "country": np.array(COUNTRIES)[country],
        "acquisition_channel": acq_channel,
        "birth_date": birth,
        "marketing_opt_in": opt_in,
        "cancelled_at": np.where(cancelled, _to_ts(t_cancel).astype("datetime64[D]"), np.datetime64("NaT")),
        "email": emails,
        "name": names,
    })

    # -- survey waves --------------------------------------------------------------------------
    surveys, pop = [], {}
    ratings_all = {t: _rating(rng, RATING_MEAN[t], sat) for t in RATED}
    lin_nps = 7.0 + sum(NPS_DRIVERS[f"rating_{t}"] * (ratings_all[t] - 3.0) for t in RATED) + 0.5 * sat
    for wi, wave in enumerate(WAVES):
        w_day = float((np.datetime64(wave + "-28") - START.astype("datetime64[D]")).astype(int))
        eligible = buys & (t_first <= w_day) & (~cancelled | (t_cancel > w_day - 60))
        nps_all = np.clip(np.round(lin_nps + rng.normal(0, 1.3, n)), 0, 10)
        pop[wave] = (int(eligible.sum()), int((eligible & (nps_all >= 9)).sum()),
                     int((eligible & (nps_all <= 6)).sum()))
        new = eligible & (t_first > w_day - 90)
        leaving = eligible & cancelled & (t_cancel <= w_day + 30) & ~new
        # returning: an order in the last 90 days after a gap of > 180 days
        before = ord_t <= w_day
        prev_gap = np.zeros(len(ord_t))
        same = np.r_[False, ord_owner[1:] == ord_owner[:-1]]
        prev_gap[same] = ord_t[1:][same[1:]] - ord_t[:-1][same[1:]]
        ret_orders = before & same & (prev_gap > 180) & (ord_t > w_day - 90)
        returning = np.zeros(n, bool)
        returning[ord_owner[ret_orders]] = True
        returning &= eligible & ~new & ~leaving
        rtype = np.where(new, "new", np.where(leaving, "leaving", np.where(returning, "returning", "existing")))
        rate = np.vectorize(RESPONSE_RATE.get)(rtype) * np.exp(0.35 * (sat - SEG_SAT[seg]))
        resp = np.flatnonzero(eligible & (rng.random(n) < rate))
        if resp.size == 0:
            continue
        rr = {f"rating_{t}": np.clip(ratings_all[t][resp] + rng.choice([-1, 0, 0, 0, 1], len(resp)), 1, 5)
              for t in RATED}
        rr["rating_support"] = np.where(n_tick[resp] > 0, rr["rating_support"], np.nan)
        rr["rating_app"] = np.where(app_share[resp] > 0.3, rr["rating_app"], np.nan)
        rr["rating_newsletter"] = np.where(opt_in[resp], rr["rating_newsletter"], np.nan)
        nps = nps_all[resp]
        mean_r = np.nanmean(np.column_stack([rr[f"rating_{t}"] for t in ("delivery", "checkout", "product_page")]), axis=1)
        csat = np.clip(np.round(3.2 + 0.7 * (mean_r - 3.5) + 0.4 * sat[resp] + rng.normal(0, 0.6, len(resp))), 1, 5)
        ces = np.clip(np.round(4.6 + 0.5 * (rr["rating_checkout"] - 3.5) + 0.3 * sat[resp]
                               + rng.normal(0, 0.9, len(resp))), 1, 7)
        comment = _comments(rng, resp, nps, rr, seg, country)
        df = pd.DataFrame({"response_id": [f"R{wi}-{i}" for i in ids[resp]], "wave": wave,
                           "customer_id": ids[resp], "respondent_type": rtype[resp],
                           "nps": nps, "csat": csat, "ces": ces, **rr, "comment": comment})
        surveys.append(df)
    survey = pd.concat(surveys, ignore_index=True) if surveys else pd.DataFrame()
    survey = survey.astype({c: "Float64" for c in survey.columns if c.startswith("rating_") or c in ("nps", "csat", "ces")})

    # -- experiments ---------------------------------------------------------------------------
    exps, exp_stats = [], {}
    dev_main = np.where(app_share > 0.5, "app", np.where(SEG_MOBILE[seg] > 0.5, "mobile", "desktop"))
    for name, spec in EXPERIMENTS.items():
        w0 = float((np.datetime64(spec["window"][0]) - START.astype("datetime64[D]")).astype(int))
        w1 = float((np.datetime64(spec["window"][1]) - START.astype("datetime64[D]")).astype(int))
        elig = np.flatnonzero((acq_day < w0) & (active_end > w0) & (rng.random(n) < spec["coverage"]))
        variants = spec["variants"]
        split = np.array([spec["planned_split"][v] for v in variants])
        vi = rng.choice(len(variants), size=len(elig), p=split / split.sum())
        lost = np.zeros(len(elig), bool)
        for v, loss in spec["srm_loss"].items():
            lost |= (vi == variants.index(v)) & (rng.random(len(elig)) < loss)
        elig, vi = elig[~lost], vi[~lost]
        segm = dev_main[elig]
        rate_tab = spec["segment_rates"]
        p_conv = np.array([rate_tab[s][variants[v]] for s, v in zip(segm, vi)]) if len(elig) else np.array([])
        conv = (rng.random(len(elig)) < p_conv).astype("int64")
        rev_mean = np.array([spec["revenue_mean"][variants[v]] for v in vi])
        revenue = np.where(conv == 1, np.round(rng.gamma(4.0, rev_mean / 4.0), 2), 0.0)
        exps.append(pd.DataFrame({
            "experiment": name, "variant": np.array(variants)[vi], "unit_id": ids[elig],
            "exposed_at": _to_ts(w0 + rng.random(len(elig)) * (w1 - w0)), "converted": conv,
            "revenue": revenue, "segment": segm, "stage": spec["stage"]}))
        exp_stats[name] = {s: int((segm == s).sum()) for s in SEGMENT_MIX_EXPOSURES}
    exposures = pd.concat(exps, ignore_index=True).sort_values(["experiment", "exposed_at"], kind="stable")
    exposures = exposures.reset_index(drop=True)

    # -- campaign truth: its own stream, appended rows, newsletter open hours (synth_campaigns) --
    camp = synth_campaigns.plant(seed, index, {
        "ids": ids, "seg": seg, "opt_in": opt_in, "buys": buys, "t_first": t_first,
        "active_end": active_end, "ord_owner": ord_owner, "ord_t": ord_t, "start": START,
        "to_ts": _to_ts, "touchpoints": touch, "orders": orders})
    touch, orders = camp.touchpoints, camp.orders
    exposures = pd.concat([exposures, camp.exposures], ignore_index=True)

    customer_truth = pd.DataFrame({
        "customer_id": ids, "segment": np.array(SEGMENTS)[seg], "purchased": buys,
        "p_first_purchase": p_buy, "furthest_stage": np.array(STAGES)[furthest_post],
        "support_trait": z_support, "promo_trait": z_promo, "app_trait": z_app, "satisfaction": sat,
        "churn_log_hazard": lin, "purchase_rate_per_week": lam * 7, "dropout_p": p_drop,
        "spend_nu": nu, "main_device": dev_main}).merge(camp.customer_truth, on="customer_id", how="left")
    nonbuyers = ~buys
    stats = {"contribution": contribution, "n_purchasers": int(buys.sum()),
             "dropoff_counts": {s: int((nonbuyers & (furthest == i)).sum()) for i, s in enumerate(DROPOFF)},
             "population_nps": pop, "segment_counts": {s: int((seg == i).sum()) for i, s in enumerate(SEGMENTS)},
             "exposure_segments": exp_stats, "campaigns": camp.stats}
    chunk = _Chunk({"customers": customers, "touchpoints": touch, "orders": orders,
                    "survey_responses": survey, "experiment_exposures": exposures}, customer_truth, stats)
    if intervention is None:
        return chunk
    # a what-if world of the journey plan: this block with one intervention applied (own stream)
    return synth_journey.apply(intervention, seed, index, chunk, locals(), sys.modules[__name__])


def _comments(rng, resp, nps, rr, seg, country) -> np.ndarray:
    k = len(resp)
    has = rng.random(k) < 0.4
    german = np.isin(np.array(COUNTRIES)[country[resp]], ["DE", "AT", "CH"])
    worst = np.column_stack([rr["rating_delivery"], np.nan_to_num(rr["rating_support"], nan=5),
                             rr["rating_checkout"], np.nan_to_num(rr["rating_app"], nan=5)])
    det_theme = np.array(DETRACTOR_THEMES[:4])[np.argmin(worst + rng.random(worst.shape) * 0.5, axis=1)]
    det_theme = np.where((seg[resp] == 0) & (rng.random(k) < 0.35), "price_too_high", det_theme)
    pro_theme = np.where(rr["rating_delivery"] >= 4, "fast_delivery_praise", "quality_praise")
    pro_theme = np.where(rng.random(k) < 0.5, "quality_praise", pro_theme)
    theme = np.where(nps <= 6, det_theme, np.where(nps >= 9, pro_theme,
                                                   np.where(rng.random(k) < 0.5, det_theme, pro_theme)))
    out = np.empty(k, dtype=object)
    for i in np.flatnonzero(has):
        opts = THEMES[theme[i]]["de" if german[i] else "en"]
        out[i] = opts[rng.integers(len(opts))]
    return out


def _chunks(n_customers: int, seed: int, intervention: Any = None) -> Iterator[_Chunk]:
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    for i, start in enumerate(range(0, n_customers, CHUNK)):
        yield _chunk(seed, i, start + 1, min(CHUNK, n_customers - start), intervention)


def _truth(n_customers: int, seed: int, stats: list[dict[str, Any]]) -> dict[str, Any]:
    contribution = {c: sum(s["contribution"][c] for s in stats) for c in MARKETING_CHANNELS}
    drop = {s: sum(st["dropoff_counts"][s] for st in stats) for s in DROPOFF}
    n_drop = max(sum(drop.values()), 1)
    pop_nps = {}
    for w in WAVES:
        n, pr, de = (sum(st["population_nps"].get(w, (0, 0, 0))[i] for st in stats) for i in range(3))
        if n:
            pop_nps[w] = 100.0 * (pr - de) / n
    seg_counts = {s: sum(st["segment_counts"][s] for st in stats) for s in SEGMENTS}
    experiments = {}
    for name, spec in EXPERIMENTS.items():
        seg_n = {s: sum(st["exposure_segments"][name][s] for st in stats) for s in SEGMENT_MIX_EXPOSURES}
        tot = max(sum(seg_n.values()), 1)
        rates = {v: sum(spec["segment_rates"][s][v] * seg_n[s] for s in seg_n) / tot for v in spec["variants"]}
        c = spec["control"]
        experiments[name] = {
            "stage": spec["stage"], "variants": list(spec["variants"]), "control": c,
            "window": list(spec["window"]), "rates": rates,
            "relative_lift": {v: rates[v] / rates[c] - 1 for v in spec["variants"]},
            "segment_column": "segment", "segment_rates": spec["segment_rates"],
            "srm": bool(spec["srm_loss"]), "planned_split": spec["planned_split"],
            "revenue_per_converter": spec["revenue_mean"],
        }
    gg_gamma = SEG_SPEND * (GG_Q - 1) / GG_P
    truth = {
        "generator": "cjlab.data.synth", "seed": seed, "n_customers": n_customers,
        "company": "Nordwind Living (fictional omnichannel retailer)",
        "period": {"start": "2024-01-01", "end": "2025-12-31"}, "observation_end": "2025-12-31",
        "segments": {"names": list(SEGMENTS), "shares": {s: seg_counts[s] / n_customers for s in SEGMENTS},
                     "planned_shares": dict(zip(SEGMENTS, SEGMENT_SHARES.tolist())),
                     "descriptions": SEGMENT_DESCRIPTIONS},
        "attribution": {"model": "noisy-OR: P(purchase) = 1 - (1-base) * prod_c (1-w_c)^touches_c",
                        "base": BASE_PURCHASE, "channel_effect": CHANNEL_EFFECT,
                        "contribution": contribution,
                        "rank": sorted(contribution, key=contribution.get, reverse=True)},
        "funnel": {"stages": list(STAGES[:5]), "dropoff_shares": {s: drop[s] / n_drop for s in drop},
                   "biggest_drop_after": max(drop, key=drop.get),
                   "post_purchase_step_rates": POST_PURCHASE_STEP},
        "survey": {"waves": list(WAVES), "nps_drivers": NPS_DRIVERS,
                   "driver_rank": [k for k, v in sorted(NPS_DRIVERS.items(), key=lambda kv: -kv[1])],
                   "themes": THEME_KEYWORDS, "detractor_themes": DETRACTOR_THEMES,
                   "population_nps": pop_nps, "response_rates": RESPONSE_RATE,
                   "ces_scale": "7 = easiest (lowest effort)",
                   "note": "response probability rises with satisfaction and differs by respondent type"},
        "experiments": experiments,
        "churn": {"kind": "contractual (membership cancelled_at), proportional hazards",
                  "drivers": CHURN_DRIVERS,
                  "driver_rank": sorted(CHURN_DRIVERS, key=lambda k: -abs(CHURN_DRIVERS[k])),
                  "base_hazard_per_year": CHURN_BASE_PER_YEAR,
                  "observables": {"support_tickets": "touchpoints with touchpoint = support_ticket",
                                  "promo_share": "share of orders with promo = true",
                                  "app_share": "share of touchpoints with device = app",
                                  "satisfaction": "survey nps/csat where answered"}},
        "clv": {"time_unit": "weeks",
                "bgnbd": {s: dict(zip(("r", "alpha", "a", "b"), BGNBD[s])) for s in SEGMENTS},
                "gamma_gamma": {s: {"p": GG_P, "q": GG_Q, "v": float(g)} for s, g in zip(SEGMENTS, gg_gamma)},
                "note": "repeat purchases thinned by seasonality and stopped by cancellation"},
    }
    return synth_campaigns.add_truth(truth, [s["campaigns"] for s in stats],
                                     dict(zip(SEGMENTS, CATEGORY_MIX)), CATEGORIES)


def generate(n_customers: int = 20_000, seed: int = 42, intervention: Any = None) -> DemoData:
    """Generate the demo company in memory.

    Parameters
    ----------
    n_customers : number of customers (prospects included); default 20,000 (a few seconds).
    seed : random seed; the same (n_customers, seed) always gives the same data.
    intervention : a :class:`cjlab.data.synth_journey.Intervention`: the same company with it
        applied (a what-if world; every customer it does not touch keeps every value).

    Returns
    -------
    DemoData

    Examples
    --------
    >>> demo = generate(1000, seed=3)
    >>> demo.tables["customers"]["customer_id"].is_unique
    True
    """
    parts = list(_chunks(n_customers, seed, intervention))
    tables = {t: pd.concat([p.tables[t] for p in parts], ignore_index=True) for t in parts[0].tables}
    ctruth = pd.concat([p.customer_truth for p in parts], ignore_index=True)
    truth = _truth(n_customers, seed, [p.stats for p in parts])
    if intervention is not None:
        truth["intervention"] = synth_journey.add_truth(intervention, [p.stats for p in parts])
    return DemoData(tables, truth, ctruth)


def customers_for_touchpoints(n_touchpoints: int, seed: int = 42) -> int:
    """Number of customers whose demo data hold about ``n_touchpoints`` touchpoints.

    The rate (about 15 touchpoints per customer) is measured on the first block of
    :data:`CHUNK` customers of ``seed``, so the result is within a fraction of a percent.

    Examples
    --------
    >>> 60_000 < customers_for_touchpoints(1_000_000) < 75_000
    True
    """
    if n_touchpoints < 1:
        raise ValueError(f"n_touchpoints must be at least 1, got {n_touchpoints}")
    first = _chunk(seed, 0, 1, CHUNK)
    per_customer = len(first.tables["touchpoints"]) / CHUNK
    return max(1, round(n_touchpoints / per_customer))


def write_parquet(path: str | Path, n_customers: int = 20_000, seed: int = 42,
                  progress: bool = False, tables: Sequence[str] | None = None,
                  compression: str = "snappy", row_group_size: int | None = None) -> dict[str, Any]:
    """Generate the demo company block by block into ``path/<table>/part-NNNNN.parquet``.

    Memory stays bounded by one block of :data:`CHUNK` customers (about 150 MB), so a million
    customers and more are fine: 6.6 million customers give 100 million touchpoints. Each
    block is one part file per table, so the tables are partitioned by customer block
    (every customer's rows sit in one file). Writes ``truth.json`` and ``customer_truth/``
    beside the tables.

    Parameters
    ----------
    path : output folder (created).
    n_customers, seed : as for :func:`generate`.
    progress : show a progress bar.
    tables : write only these tables (and ``"customer_truth"`` if listed); default all five
        contract tables and ``customer_truth``. ``truth.json`` is always written.
    compression : Parquet compression codec.
    row_group_size : rows per Parquet row group (default: one group per part file).

    Returns
    -------
    The truth dict.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    wanted = None if tables is None else set(tables)
    stats = []
    n_chunks = -(-n_customers // CHUNK)
    it = _chunks(n_customers, seed)
    for i, part in enumerate(tqdm(it, total=n_chunks, desc="demo data", disable=not progress)):
        for name, df in [*part.tables.items(), ("customer_truth", part.customer_truth)]:
            if wanted is not None and name not in wanted:
                continue
            d = path / name
            d.mkdir(exist_ok=True)
            df.to_parquet(d / f"part-{i:05d}.parquet", index=False, compression=compression,
                          row_group_size=row_group_size)
        stats.append(part.stats)
        del part
    truth = _truth(n_customers, seed, stats)
    (path / "truth.json").write_text(json.dumps(truth, indent=2))
    return truth
