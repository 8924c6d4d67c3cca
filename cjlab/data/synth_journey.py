"""What-if worlds of the demo company: the same customers with one journey intervention applied.

The journey plan (:mod:`cjlab.plan`) predicts what an action would change. The demo generator is
its ground truth: ``cjlab.data.synth.generate(n, seed, intervention=Intervention(...))`` draws the
default company block by block exactly as without the intervention, then applies the
intervention to each block with a random stream of its own (``SeedSequence([seed, block, 17])``),
so every customer the intervention does not touch keeps every value of the default demo, and
the difference between the two worlds is the intervention's effect (no other noise).

Two kinds of intervention, both following the generator's own laws:

``transition``
    The step from ``stage`` to the next pre-purchase stage converts ``effect`` more (absolute:
    0.045 = 4.5 points), for customers of one category (``category_column`` = ``device`` or
    ``channel``: the value at the customer's first touch, or a customers column such as
    ``country``; empty = everybody). Non-buyers who stopped at ``stage`` move on with the chance
    ``effect × reached / stopped`` (counted on the data as an analyst sees them), so the step
    conversion rises by ``effect`` in expectation. A customer moved on behaves from the next stage
    as any customer there would with the same traits: they buy with their own chance of buying
    given that they reached that stage (from the generator's noisy-OR purchase chance and the
    planted drop-off shares), else stop at a later stage. New buyers get their first order, the
    repeat purchases, spend, cancellation, product and the purchase, delivery and
    after-purchase touches of the generator; their survey answers and experiment exposures are not
    drawn (the what-if concerns purchases and revenue).
``spend_shift``
    ``effect`` of the acquisition spend on the ``source`` channel moves to ``target``. Spend buys
    prospects at ``cost_per_prospect``: each prospect whose first touch was on ``source`` is
    gone with chance ``effect`` (all their rows), and the freed budget buys
    ``removed × cost(source) / cost(target)`` new prospects whose first touch is on ``target``
    (fresh customers of the generator, drawn as extra blocks with ids from 1,000,000,000).

``truth["intervention"]`` records the intervention and what it changed (customers moved,
removed and added, new buyers, orders and revenue).

Examples
--------
>>> from cjlab.data.synth import generate
>>> base = generate(600, seed=3)
>>> what_if = generate(600, seed=3, intervention=Intervention("transition", stage="comparison",
...                                                          effect=0.1))
>>> what_if.truth["intervention"]["moved"] > 0
True
>>> len(what_if.tables["orders"]) >= len(base.tables["orders"])
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data import synth_campaigns
from cjlab.data.contract import STAGES

__all__ = ["KINDS", "STREAM", "Intervention", "add_truth", "apply"]

STREAM = 17  # the third entry of the SeedSequence of every block's what-if stream
KINDS = ("transition", "spend_shift")
EXTRA_IDS = 1_000_000_000  # ids of the prospects a spend shift adds start here
EXTRA_BLOCK = 100_000  # block numbers of the extra prospects: EXTRA_BLOCK + 100 * block + k
PRE = ("ad_impression", "landing_page", "product_page", "cart")  # pre-purchase touch per stage
POST = {
    "onboarding": ("email", "welcome_email"),
    "support": ("web", "help_center"),
    "loyalty": ("app", "loyalty_signup"),
    "upsell": ("email", "upsell_offer"),
    "cross_sell": ("web", "recommendation_click"),
}


@dataclass(frozen=True)
class Intervention:
    """One what-if applied to the demo company (see the module docstring).

    Parameters
    ----------
    kind : ``"transition"`` or ``"spend_shift"``.
    stage : transition: the pre-purchase stage whose step to the next stage improves
        (awareness, information, comparison or persuasion; persuasion's next step is the purchase).
    effect : transition: points added to the step conversion (a share: 0.045 = +4.5 points);
        spend shift: the share of the source channel's acquisition spend moved.
    category_column, category : transition: only customers whose ``category_column`` (device or
        channel at the first touch, or a customers column) is ``category``; empty = everybody.
    source, target, cost_per_prospect : spend shift: from and to which channel, and what one
        prospect costs on each.
    """

    kind: str
    stage: str = "comparison"
    effect: float = 0.0
    category_column: str = ""
    category: str = ""
    source: str = "paid_search"
    target: str = "email"
    cost_per_prospect: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"intervention kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "transition" and self.stage not in STAGES[:4]:
            raise ValueError(f"a transition starts at a pre-purchase stage, got {self.stage!r}")
        if not 0 <= self.effect <= 1:
            raise ValueError(f"effect must lie in [0, 1], got {self.effect}")
        if self.kind == "spend_shift":
            costs = self.cost_per_prospect
            if not all(costs.get(c, 0) > 0 for c in (self.source, self.target)):
                raise ValueError(
                    "a spend shift needs a positive cost_per_prospect for "
                    f"{self.source!r} and {self.target!r}"
                )

    def record(self) -> dict[str, Any]:
        """The intervention as a JSON-ready dict."""
        return {
            k: (dict(v) if isinstance(v, Mapping) else v)
            for k, v in dataclasses.asdict(self).items()
        }


# -- the data as an analyst sees them --------------------------------------------------------


def first_touch(touch: pd.DataFrame, column: str) -> pd.Series:
    """Per customer: the value of ``column`` at the first touch (ties: the smallest value)."""
    t = touch[["customer_id", "ts", column]].dropna(subset=[column])
    t = t.sort_values(["customer_id", "ts", column], kind="stable")
    return t.drop_duplicates("customer_id").set_index("customer_id")[column].astype(str)


def categories(tables: Mapping[str, pd.DataFrame], ids: np.ndarray, column: str) -> np.ndarray:
    """Each customer's category value (as text; "" when unknown)."""
    if not column:
        return np.full(len(ids), "", dtype=object)
    if column in ("device", "channel"):
        values = first_touch(tables["touchpoints"], column)
    else:
        values = tables["customers"].set_index("customer_id")[column].astype(str)
    return values.reindex(ids).fillna("").to_numpy(object)


def reached(tables: Mapping[str, pd.DataFrame], ids: np.ndarray) -> np.ndarray:
    """Furthest pre-purchase stage (0..3) before the first order, 4 for buyers, -1 for none."""
    tp, orders = tables["touchpoints"], tables["orders"]
    idx = pd.Series(range(4), index=STAGES[:4])
    pre = tp[tp["stage"].isin(STAGES[:4])]
    furthest = pre.assign(k=pre["stage"].map(idx)).groupby("customer_id")["k"].max()
    out = furthest.reindex(ids).fillna(-1).to_numpy(int)
    out[np.isin(ids, orders["customer_id"].unique())] = 4
    return out


# -- the generator's laws for customers who now buy ------------------------------------------


def _devices(rng, s: Mapping[str, Any], laws: ModuleType, who: np.ndarray) -> np.ndarray:
    app = rng.random(len(who)) < s["app_share"][who]
    mobile = rng.random(len(who)) < laws.SEG_MOBILE[s["seg"][who]]
    return np.where(app, "app", np.where(mobile, "mobile", "desktop"))


def _pre_touches(rng, s, laws, who: np.ndarray, old: np.ndarray, new: np.ndarray) -> pd.DataFrame:
    """The pre-purchase touches of stages ``old`` < stage <= ``new`` of customers ``who``."""
    lo = np.full(len(s["ids"]), 99)
    hi = np.full(len(s["ids"]), -1)
    lo[who], hi[who] = old, new
    o, k = s["owner"], s["stage_of_touch"]
    sel = np.flatnonzero((k > lo[o]) & (k <= hi[o]) & (s["t_touch"] < laws.N_DAYS))
    ch = np.array(laws.MARKETING_CHANNELS)[s["ch"][sel]]
    t = s["t_touch"][sel]
    year = 2024 + (t >= 366).astype(int)
    quarter = np.minimum(((t % 365.25) // 91.4).astype(int) + 1, 4)
    camp = [f"{c}_{y}q{q}" for c, y, q in zip(ch, year, quarter)]
    name = np.where(ch == "email", "newsletter_click", np.array(PRE)[k[sel]])
    return pd.DataFrame(
        {
            "customer_id": s["ids"][o[sel]],
            "ts_days": t,
            "channel": ch,
            "touchpoint": name,
            "stage": np.array(STAGES)[k[sel]],
            "device": _devices(rng, s, laws, o[sel]),
            "campaign": camp,
        }
    )


def _order_times(rng, s, laws, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and repeat order days of the new buyers ``who`` (BG/NBD with seasonal thinning,
    stopped by cancellation): owner index and day of each order, sorted."""
    t_first, end = s["t_first"][who], s["end"][who]
    span = np.maximum(end - t_first, 0.0)
    n_cand = rng.poisson(s["lam"][who] * laws.SEASON_MAX * span)
    owner = np.repeat(np.arange(len(who)), n_cand)
    t = t_first[owner] + rng.random(len(owner)) * span[owner]
    acc = rng.random(len(owner)) < laws._season(t, s["birth_doy"][who][owner]) / laws.SEASON_MAX
    owner, t = owner[acc], t[acc]
    order = np.lexsort((t, owner))
    owner, t = owner[order], t[order]
    rank = np.arange(len(owner)) - np.searchsorted(owner, owner)  # repeat number - 1
    keep = ((rank + 1) <= s["drop_after"][who][owner]) & (rank < 400)
    owner = np.concatenate([np.arange(len(who)), owner[keep]])
    t = np.concatenate([t_first, t[keep]])
    order = np.lexsort((t, owner))
    return who[owner[order]], t[order]


def _orders(
    rng, s, laws, who: np.ndarray, columns: Sequence[str], style: pd.Series
) -> pd.DataFrame:
    """The orders of the new buyers ``who``, with the generator's spend, promo and mix."""
    owner, t = _order_times(rng, s, laws, who)
    seq = np.arange(len(owner)) - np.searchsorted(owner, owner)
    amount = rng.gamma(laws.GG_P, 1 / s["nu"][owner])
    dates = laws.START + (t * laws.DAY).astype("int64").astype("timedelta64[s]")
    doy = (dates.astype("datetime64[D]") - dates.astype("datetime64[Y]")).astype(int) + 1
    promo = rng.random(len(owner)) < np.where(
        (doy >= 328) & (doy <= 334), 0.85, s["promo_p"][owner]
    )
    seg = s["seg"][owner]
    channel = laws._choice_rows(rng, laws.ORDER_CHANNEL_MIX[seg])
    category = np.array(laws.CATEGORIES)[laws._choice_rows(rng, laws.CATEGORY_MIX[seg])]
    ids = s["ids"][owner]
    out = pd.DataFrame(
        {
            "order_id": ids * 1000 + seq,
            "customer_id": ids,
            "ts": laws._to_ts(t),
            "amount": np.round(amount, 2),
            "channel": np.array(laws.ORDER_CHANNELS)[channel],
            "product_category": category,
            "discount": np.where(promo, np.round(amount * rng.uniform(0.1, 0.3, len(t)), 2), 0.0),
            "promo": promo,
        }
    )
    if "product" in columns:
        styles = np.asarray(synth_campaigns.STYLES)
        own = style.reindex(ids).to_numpy(object)
        other = styles[rng.integers(0, len(styles), len(t))]
        pick = np.where(rng.random(len(t)) < synth_campaigns.SHARE_OWN_STYLE, own, other)
        out["product"] = np.char.add(np.char.add(category.astype(str), "_"), pick.astype(str))
    return out[[c for c in columns if c in out.columns]]


def _purchase_touches(rng, s, laws, orders: pd.DataFrame, who: np.ndarray) -> list[pd.DataFrame]:
    """Checkout and delivery touches per order, and the after-purchase stages of ``who``."""
    pos = np.searchsorted(s["ids"], orders["customer_id"].to_numpy())
    t = (orders["ts"].to_numpy() - laws.START).astype("timedelta64[s]").astype(float) / laws.DAY
    dev = _devices(rng, s, laws, pos)
    store, phone = (
        (orders["channel"] == "store").to_numpy(),
        (orders["channel"] == "phone").to_numpy(),
    )
    cid = orders["customer_id"].to_numpy()
    out = [
        pd.DataFrame(
            {
                "customer_id": cid,
                "ts_days": t,
                "channel": np.where(
                    store, "store", np.where(phone, "phone", np.where(dev == "app", "app", "web"))
                ),
                "touchpoint": np.where(store, "store_purchase", "checkout"),
                "stage": "purchase",
                "device": np.where(store | phone, "offline", dev),
                "campaign": None,
            }
        ),
        pd.DataFrame(
            {
                "customer_id": cid,
                "ts_days": np.minimum(t + rng.uniform(0.5, 4.0, len(t)), laws.N_DAYS - 1e-3),
                "channel": np.where(store, "store", "email"),
                "touchpoint": np.where(store, "store_pickup", "delivery"),
                "stage": "logistics",
                "device": np.where(store, "offline", dev),
                "campaign": None,
            }
        ),
    ]
    reach = np.ones(len(who), bool)
    t_stage = s["t_first"][who] + 2.0
    for stage, (chan, touch) in POST.items():
        reach &= rng.random(len(who)) < laws.POST_PURCHASE_STEP[stage]
        t_stage = t_stage + rng.exponential(12.0, len(who))
        ok = np.flatnonzero(reach & (t_stage < s["end"][who]))
        d = _devices(rng, s, laws, who[ok])
        out.append(
            pd.DataFrame(
                {
                    "customer_id": s["ids"][who[ok]],
                    "ts_days": t_stage[ok],
                    "channel": np.where(d == "app", "app", chan),
                    "touchpoint": touch,
                    "stage": stage,
                    "device": d,
                    "campaign": None,
                }
            )
        )
    return out


# -- the interventions -----------------------------------------------------------------------


def _moved_on(rng, s, laws, iv: Intervention, tables) -> tuple[np.ndarray, np.ndarray, dict]:
    """Transition: who moves on from ``iv.stage`` and the furthest stage they now reach (4 = buy)."""
    ids = s["ids"]
    k = STAGES.index(iv.stage)
    cat = categories(tables, ids, iv.category_column)
    mine = (cat == iv.category) if iv.category_column else np.ones(len(ids), bool)
    now = reached(tables, ids)
    at, stopped = mine & (now >= k), mine & (now == k)
    chance = min(1.0, iv.effect * at.sum() / max(stopped.sum(), 1))
    who = np.flatnonzero(stopped & (rng.random(len(ids)) < chance))
    drop = np.array(list(laws.DROPOFF.values()))
    later = drop[k + 1 :].sum() if k < 3 else 0.0  # non-buyers' chance to get past stage k
    p = s["p_buy"][who]
    if k < 3:  # buy given the next stage is reached; else stop there or later (planted shares)
        buy = rng.random(len(who)) < p / (p + (1 - p) * later)
        stop = rng.choice(np.arange(k + 1, 4), size=len(who), p=drop[k + 1 :] / later)
    else:  # persuasion -> purchase: moved on means buying
        buy, stop = np.ones(len(who), bool), np.full(len(who), 3)
    buy &= s["t_first"][who] < laws.N_DAYS
    new = np.where(buy, 4, stop)
    stats = {
        "reached": int(at.sum()),
        "stopped": int(stopped.sum()),
        "chance": chance,
        "moved": len(who),
        "expected_moved": iv.effect * int(at.sum()),
    }
    return who, new, stats


def _transition(rng, s, laws, iv: Intervention, chunk) -> tuple[dict, pd.DataFrame, dict]:
    tables = chunk.tables
    who, new, stats = _moved_on(rng, s, laws, iv, tables)
    old = reached(tables, s["ids"])[who]
    touches = [_pre_touches(rng, s, laws, who, old, np.minimum(new, 3))]
    buyers = who[new == 4]
    orders = _orders(
        rng,
        s,
        laws,
        buyers,
        list(tables["orders"].columns),
        chunk.customer_truth.set_index("customer_id").get("product_style", pd.Series()),
    )
    touches += _purchase_touches(rng, s, laws, orders, buyers)
    out = dict(tables)
    touches = [t[t["ts_days"] < laws.N_DAYS] for t in touches]
    touches = [t for t in touches if len(t)]
    if touches:
        tp = pd.concat(touches, ignore_index=True)
        tp.insert(1, "ts", laws._to_ts(tp.pop("ts_days").to_numpy()))
        both = [tables["touchpoints"], tp[tables["touchpoints"].columns]]
        out["touchpoints"] = _sorted(pd.concat(both, ignore_index=True), ["customer_id", "ts"])
    if len(orders):
        both = [tables["orders"], orders]
        out["orders"] = _sorted(pd.concat(both, ignore_index=True), ["customer_id", "ts"])
    cust = tables["customers"].copy()
    gone = buyers[s["cancelled_if_buyer"][buyers]]
    col = cust["cancelled_at"].to_numpy().copy()
    col[gone] = laws._to_ts(s["t_cancel"][gone]).astype("datetime64[D]")
    cust["cancelled_at"] = col
    out["customers"] = cust
    ct = chunk.customer_truth.copy()
    ct.loc[ct["customer_id"].isin(s["ids"][buyers]), "purchased"] = True
    stats |= {
        "new_buyers": len(buyers),
        "orders": len(orders),
        "revenue": float(orders["amount"].sum()),
    }
    return out, ct, stats


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by, kind="stable").reset_index(drop=True)


def _prospects(laws, seed: int, index: int, channel: str, k: int) -> tuple[dict, pd.DataFrame]:
    """``k`` fresh prospects of the generator whose first touch is on ``channel``."""
    tables, truth, got, j = [], [], 0, 0
    while got < k:
        size = max(200, 8 * (k - got))
        first_id = EXTRA_IDS + index * 10_000_000 + j * 1_000_000 + 1
        block = laws._chunk(seed, EXTRA_BLOCK + 100 * index + j, first_id, size)
        ids = block.tables["customers"]["customer_id"].to_numpy()
        pick = ids[categories(block.tables, ids, "channel") == channel][: k - got]
        tables.append({t: df[df[_key(t)].isin(pick)] for t, df in block.tables.items()})
        truth.append(block.customer_truth[block.customer_truth["customer_id"].isin(pick)])
        got, j = got + len(pick), j + 1
    merged = (
        {t: pd.concat([b[t] for b in tables], ignore_index=True) for t in tables[0]}
        if tables
        else {}
    )
    return merged, (pd.concat(truth, ignore_index=True) if truth else pd.DataFrame())


def _key(table: str) -> str:
    return "unit_id" if table == "experiment_exposures" else "customer_id"


def _spend_shift(rng, s, laws, iv: Intervention, chunk, seed: int, index: int):
    tables, ids = chunk.tables, s["ids"]
    first = categories(tables, ids, "channel")
    source = np.flatnonzero(first == iv.source)
    gone = ids[source[rng.random(len(source)) < iv.effect]]
    cost = iv.cost_per_prospect
    k = round(len(gone) * cost[iv.source] / cost[iv.target])
    extra, extra_truth = _prospects(laws, seed, index, iv.target, k)
    out = {}
    for t, df in tables.items():
        kept = df[~df[_key(t)].isin(gone)]
        out[t] = pd.concat([kept, extra[t]], ignore_index=True) if k and t in extra else kept
    ct = chunk.customer_truth
    ct = pd.concat([ct[~ct["customer_id"].isin(gone)], extra_truth], ignore_index=True)
    lost = tables["orders"][tables["orders"]["customer_id"].isin(gone)]
    added = extra.get("orders", lost.iloc[:0])
    stats = {
        "removed": len(gone),
        "added": k,
        "source_prospects": len(source),
        "orders": len(added) - len(lost),
        "revenue": float(added["amount"].sum() - lost["amount"].sum()),
        "new_buyers": added["customer_id"].nunique() - lost["customer_id"].nunique(),
    }
    return out, ct, stats


def apply(
    iv: Intervention, seed: int, index: int, chunk: Any, state: Mapping[str, Any], laws: ModuleType
) -> Any:
    """The block ``chunk`` with ``iv`` applied (called by :func:`cjlab.data.synth._chunk`).

    Parameters
    ----------
    iv : the intervention.
    seed, index : the demo seed and the block number (the stream is
        ``SeedSequence([seed, index, 17])``).
    chunk : the default block (its tables, customer truth and sums).
    state : the block's arrays as :func:`cjlab.data.synth._chunk` drew them (its local names).
    laws : the generator module (its constants and draw helpers), passed in so that this module
        does not import it.

    Returns
    -------
    The block of the what-if world (the generator's block type), ``stats["intervention"]`` set.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, STREAM]))
    s = dict(state)
    s["end"] = np.where(s["t_cancel"] < laws.N_DAYS, s["t_cancel"], laws.N_DAYS)
    s["cancelled_if_buyer"] = s["t_cancel"] < laws.N_DAYS
    if iv.kind == "transition":
        tables, ct, stats = _transition(rng, s, laws, iv, chunk)
    else:
        tables, ct, stats = _spend_shift(rng, s, laws, iv, chunk, seed, index)
    return dataclasses.replace(
        chunk, tables=tables, customer_truth=ct, stats={**chunk.stats, "intervention": stats}
    )


def add_truth(iv: Intervention, stats: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``truth["intervention"]``: the intervention and what it changed, summed over the blocks."""
    parts = [s["intervention"] for s in stats]
    keys = sorted({k for p in parts for k in p if k != "chance"})
    return {
        "intervention": iv.record(),
        **{k: sum(p.get(k, 0) for p in parts) for k in keys},
        "note": "orders, revenue and new_buyers: the what-if world minus the default demo",
    }
