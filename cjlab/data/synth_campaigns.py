"""Campaign ground truth planted in the demo company (notebooks/06_campaigns.ipynb recovers it).

:mod:`cjlab.data.synth` calls :func:`plant` once per block of customers, after every contract
table of the block is drawn, with a random stream of its own
(``SeedSequence([seed, block, 13])``), so no value the other analyses rely on is redrawn:

- **a campaign experiment with a random holdout** (``reactivation_email``, appended to
  ``experiment_exposures``): opted-in customers who had bought and were still members on
  2025-10-01 get the e-mail (70 %) or are held out (30 %); conversion within the campaign
  window depends on the behavioural segment (also written to the exposures' ``segment``
  column) and on whether the customer bought in the last 90 days. The true uplift is large for
  bargain hunters, small for occasional browsers, zero for loyal regulars (they buy anyway)
  and negative for premium shoppers (the e-mail annoys them), and larger for lapsed
  customers of a segment than for recent ones;
- **per-customer product affinities**: a ``product`` column appended to the orders (the category
  stays as drawn): each category has one product per style, and each customer has a style of
  their own that most of their products follow, across categories — what a next-best-offer
  ranking must find;
- **preferred e-mail open hours**: the newsletter opens already in the touchpoints keep their
  day; their hour of day now follows a per-customer preferred hour (around the segment's
  typical hour) for :data:`SHARE_AT_PREFERRED` of the opens and a population day curve for
  the rest;
- the truths the generator already planted and the campaign analyses recover are recorded
  too: the birthday lift of repeat purchases (the week before and after the birthday), the
  Christmas and Black Friday season, no first-purchase-anniversary effect, and each segment's
  category mix.

Examples
--------
>>> from cjlab.data.synth import generate
>>> demo = generate(600, seed=1)
>>> sorted(demo.truth["campaigns"]["uplift"]["segment_uplift"])[:2]
['bargain_hunters', 'loyal_regulars']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

STREAM = 13  # the third entry of the SeedSequence of every block's campaign stream
EXPERIMENT = "reactivation_email"
CONTROL, TREATMENT = "holdout", "email"
HOLDOUT_SHARE = 0.3
COVERAGE = 0.9
WINDOW = ("2025-10-01", "2025-10-14")
RECENT_DAYS = 90
# per segment (order of cjlab.data.synth.SEGMENTS): conversion without the e-mail, true uplift
SEGMENT_ORDER = ("bargain_hunters", "loyal_regulars", "occasional_browsers", "premium_shoppers")
BASE_RATE = np.array([0.10, 0.22, 0.05, 0.12])
UPLIFT = np.array([0.10, 0.00, 0.03, -0.05])
#: uplift multiplier of lapsed (no order in the last 90 days) and recent customers
LAPSED_FACTOR, RECENT_FACTOR = 1.25, 0.75
RECENT_RATE_FACTOR, LAPSED_RATE_FACTOR = 1.4, 0.8
REVENUE_MEAN = np.array([35.0, 60.0, 45.0, 150.0])

#: typical open hour of each segment (UTC): evening, early morning, lunch, early evening
SEGMENT_HOUR = np.array([21, 7, 12, 19])
SHARE_AT_PREFERRED = 0.6
HOUR_SD = 0.7
#: background curve of open hours (the rest of the opens): daytime and evening
BACKGROUND = np.array(
    [1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 7, 8, 7, 6, 6, 6, 7, 8, 9, 9, 8, 5, 3], float
)

#: product styles: each category has one product per style (``product`` = ``<category>_<style>``)
STYLES = ("classic", "trendy", "sporty", "cosy")
#: per segment, the chance of each style being a customer's own (rows follow SEGMENT_ORDER)
STYLE_MIX = np.array(
    [
        [0.15, 0.55, 0.15, 0.15],
        [0.55, 0.15, 0.15, 0.15],
        [0.15, 0.15, 0.15, 0.55],
        [0.40, 0.10, 0.40, 0.10],
    ]
)
SHARE_OWN_STYLE = 0.65

BIRTHDAY_DAYS = 7
BIRTHDAY_LIFT = 0.5  # added to the seasonal purchase multiplier of repeat purchases (synth._season)


@dataclass
class Planted:
    """What :func:`plant` adds to one block: the new exposures, the re-timed touchpoints, the
    orders with their ``product`` column, per-customer truth columns and the block's sums for
    the truth dict."""

    exposures: pd.DataFrame
    touchpoints: pd.DataFrame
    orders: pd.DataFrame
    customer_truth: pd.DataFrame
    stats: dict[str, Any]


def _day(date: str, start: np.datetime64) -> float:
    return float((np.datetime64(date) - start.astype("datetime64[D]")).astype(int))


def _last_before(owner: np.ndarray, t: np.ndarray, n: int, day: float) -> np.ndarray:
    """Each customer's last order day before ``day`` (-inf when none)."""
    last = np.full(n, -np.inf)
    m = t < day
    np.maximum.at(last, owner[m], t[m])
    return last


def _experiment(rng, ctx: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    seg, n, start = ctx["seg"], len(ctx["ids"]), ctx["start"]
    w0, w1 = _day(WINDOW[0], start), _day(WINDOW[1], start)
    last = _last_before(ctx["ord_owner"], ctx["ord_t"], n, w0)
    elig = ctx["opt_in"] & ctx["buys"] & (ctx["t_first"] < w0) & (ctx["active_end"] > w0)
    elig &= rng.random(n) < COVERAGE
    idx = np.flatnonzero(elig)
    recent = (w0 - last[idx]) <= RECENT_DAYS
    s = seg[idx]
    p0 = BASE_RATE[s] * np.where(recent, RECENT_RATE_FACTOR, LAPSED_RATE_FACTOR)
    tau = UPLIFT[s] * np.where(recent, RECENT_FACTOR, LAPSED_FACTOR)
    p1 = np.clip(p0 + tau, 0.0, 1.0)
    treated = rng.random(len(idx)) >= HOLDOUT_SHARE
    conv = (rng.random(len(idx)) < np.where(treated, p1, p0)).astype("int64")
    revenue = np.where(conv == 1, np.round(rng.gamma(4.0, REVENUE_MEAN[s] / 4.0), 2), 0.0)
    names = np.array(SEGMENT_ORDER)
    ex = pd.DataFrame(
        {
            "experiment": EXPERIMENT,
            "variant": np.where(treated, TREATMENT, CONTROL),
            "unit_id": ctx["ids"][idx],
            "exposed_at": ctx["to_ts"](w0 + rng.random(len(idx)) * (w1 - w0)),
            "converted": conv,
            "revenue": revenue,
            "segment": names[s],
            "stage": "loyalty",
        }
    )
    truth = pd.DataFrame(
        {"customer_id": ctx["ids"][idx], "campaign_uplift": p1 - p0, "campaign_base_rate": p0}
    )
    stats = {
        "n": {v: int(m.sum()) for v, m in ((TREATMENT, treated), (CONTROL, ~treated))},
        "p_sum": {TREATMENT: float(p1[treated].sum()), CONTROL: float(p0[~treated].sum())},
        "segments": {},
    }
    for k, name in enumerate(SEGMENT_ORDER):
        m = s == k
        stats["segments"][name] = {
            "n": int(m.sum()),
            "p0": float(p0[m].sum()),
            "p1": float(p1[m].sum()),
            "lapsed": int((m & ~recent).sum()),
        }
    return ex, truth, stats


def _open_hours(
    rng, ctx: Mapping[str, Any], touch: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    seg, n = ctx["seg"], len(ctx["ids"])
    pref = (SEGMENT_HOUR[seg] + rng.integers(-2, 3, n)) % 24
    mask = (touch["touchpoint"] == "newsletter_open").to_numpy()
    if not mask.any():
        return touch, pref
    pos = np.searchsorted(ctx["ids"], touch["customer_id"].to_numpy()[mask])
    k = len(pos)
    near = (pref[pos] + np.round(rng.normal(0.0, HOUR_SD, k))).astype(int) % 24
    background = rng.choice(24, size=k, p=BACKGROUND / BACKGROUND.sum())
    hour = np.where(rng.random(k) < SHARE_AT_PREFERRED, near, background)
    seconds = rng.integers(0, 3600, k)
    ts = touch["ts"].to_numpy()[mask]
    day = ts.astype("datetime64[D]").astype("datetime64[s]")
    new = day + (hour * 3600 + seconds).astype("timedelta64[s]")
    out = touch.copy()
    col = out["ts"].to_numpy().copy()
    col[mask] = new
    out["ts"] = col
    out = out.sort_values(["customer_id", "ts"], kind="stable").reset_index(drop=True)
    return out, pref


def _products(rng, ctx: Mapping[str, Any], orders: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """A ``product`` column: within the order's category, the customer's own style for
    :data:`SHARE_OWN_STYLE` of the orders, any style for the rest."""
    seg, n = ctx["seg"], len(ctx["ids"])
    u = rng.random(n)[:, None]
    style = (u > np.cumsum(STYLE_MIX[seg], axis=1)).sum(axis=1).clip(0, len(STYLES) - 1)
    pos = np.searchsorted(ctx["ids"], orders["customer_id"].to_numpy())
    k = len(pos)
    own = rng.random(k) < SHARE_OWN_STYLE
    chosen = np.where(own, style[pos], rng.integers(0, len(STYLES), k))
    out = orders.copy()
    out["product"] = np.char.add(
        np.char.add(orders["product_category"].to_numpy().astype(str), "_"),
        np.asarray(STYLES)[chosen],
    )
    return out, style


def plant(seed: int, index: int, ctx: Mapping[str, Any]) -> Planted:
    """Plant the campaign truth into one block of the demo company.

    Parameters
    ----------
    seed, index : the demo seed and the block number (the stream is
        ``SeedSequence([seed, index, 13])``).
    ctx : the block's arrays from :func:`cjlab.data.synth._chunk`: ``ids``, ``seg``,
        ``opt_in``, ``buys``, ``t_first``, ``active_end``, ``ord_owner``, ``ord_t`` (days since
        the start), ``start`` (datetime64), ``to_ts`` (days -> timestamps) and ``touchpoints``.

    Returns
    -------
    :class:`Planted`.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, STREAM]))
    ex, exp_truth, stats = _experiment(rng, ctx)
    touch, pref = _open_hours(rng, ctx, ctx["touchpoints"])
    orders, style = _products(rng, ctx, ctx["orders"])
    ct = pd.DataFrame(
        {
            "customer_id": ctx["ids"],
            "preferred_open_hour": pref,
            "product_style": np.asarray(STYLES)[style],
        }
    )
    ct = ct.merge(exp_truth, on="customer_id", how="left")
    return Planted(ex, touch, orders, ct, stats)


def _experiment_truth(stats: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = {v: sum(s["n"][v] for s in stats) for v in (CONTROL, TREATMENT)}
    rates = {v: sum(s["p_sum"][v] for s in stats) / max(n[v], 1) for v in (CONTROL, TREATMENT)}
    seg_rates, seg_uplift = {}, {}
    for name in SEGMENT_ORDER:
        m = sum(s["segments"][name]["n"] for s in stats)
        p0 = sum(s["segments"][name]["p0"] for s in stats) / max(m, 1)
        p1 = sum(s["segments"][name]["p1"] for s in stats) / max(m, 1)
        seg_rates[name] = {CONTROL: p0, TREATMENT: p1}
        seg_uplift[name] = p1 - p0
    return {"n": n, "rates": rates, "segment_rates": seg_rates, "segment_uplift": seg_uplift}


def add_truth(
    truth: dict[str, Any],
    stats: Sequence[Mapping[str, Any]],
    category_mix: Mapping[str, Sequence[float]],
    categories: Sequence[str],
) -> dict[str, Any]:
    """Add the campaign experiment to ``truth["experiments"]`` and the ``"campaigns"`` truths.

    ``stats`` are the blocks' :attr:`Planted.stats`; ``category_mix`` and ``categories`` the
    generator's per-segment category probabilities (the planted next-best-offer affinities).
    """
    e = _experiment_truth(stats)
    rates = e["rates"]
    truth["experiments"][EXPERIMENT] = {
        "stage": "loyalty",
        "variants": [CONTROL, TREATMENT],
        "control": CONTROL,
        "window": list(WINDOW),
        "rates": rates,
        "relative_lift": {
            v: rates[v] / rates[CONTROL] - 1 if rates[CONTROL] else 0.0
            for v in (CONTROL, TREATMENT)
        },
        "segment_column": "segment",
        "segment_rates": e["segment_rates"],
        "srm": False,
        "planned_split": {CONTROL: HOLDOUT_SHARE, TREATMENT: 1 - HOLDOUT_SHARE},
        "revenue_per_converter": dict(zip(SEGMENT_ORDER, REVENUE_MEAN.tolist())),
    }
    uplift = e["segment_uplift"]
    truth["campaigns"] = {
        "uplift": {
            "experiment": EXPERIMENT,
            "control": CONTROL,
            "treatment": TREATMENT,
            "segment_column": "segment",
            "segment_uplift": uplift,
            "rank": sorted(uplift, key=uplift.get, reverse=True),
            "incremental_conversion": rates[TREATMENT] - rates[CONTROL],
            "note": "uplift per segment times 1.25 for customers without an order in the 90 days "
            "before 2025-10-01 and 0.75 for the others; customer_truth.campaign_uplift",
        },
        "send_time": {
            "segment_hour": dict(zip(SEGMENT_ORDER, SEGMENT_HOUR.tolist())),
            "share_at_preferred": SHARE_AT_PREFERRED,
            "hour_sd": HOUR_SD,
            "note": "hour of day (UTC) of newsletter opens; the day of week carries no preference; "
            "customer_truth.preferred_open_hour",
        },
        "next_best_offer": {
            "item": "product",
            "categories": list(categories),
            "styles": list(STYLES),
            "category_mix": {
                s: dict(zip(categories, map(float, m))) for s, m in category_mix.items()
            },
            "style_mix": {
                s: dict(zip(STYLES, map(float, m))) for s, m in zip(SEGMENT_ORDER, STYLE_MIX)
            },
            "share_own_style": SHARE_OWN_STYLE,
            "note": "each order's category is drawn from its customer's segment mix; its product "
            "(orders.product = <category>_<style>) is the customer's own style for "
            "share_own_style of the orders (customer_truth.product_style), any style else",
        },
        "triggers": {
            "birthday": {
                "window_days": BIRTHDAY_DAYS,
                "seasonal_multiplier_added": BIRTHDAY_LIFT,
                "expected_rate_ratio": 1 + BIRTHDAY_LIFT,
            },
            "first_purchase_anniversary": {"expected_rate_ratio": 1.0},
            "christmas": {"peak_day_of_year": 350, "peak_multiplier": 1.9},
            "black_friday": {"days_of_year": [328, 334], "multiplier_added": 0.8},
            "note": "repeat purchases only (the first purchase follows the pre-purchase journey)",
        },
    }
    return truth
