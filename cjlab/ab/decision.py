"""Decisions and trust checks: ROPE + expected-loss verdicts, sample-ratio mismatch, evolution.

One number decides: the **expected loss** of choosing an arm, ``E[max_j p_j - p_k] / p_c``
in units of the control's rate — what we expect to give up by choosing arm ``k`` instead of
whichever arm is truly best (column ``expected_loss_relative``). With two arms it is the
familiar risk of shipping the variant (or of keeping the control); with three or more it is
measured against the best arm, so an arm that beats the control but probably loses to
another variant is never shipped.

Decision rule (per variant; thresholds in units of the control's rate)

1. **equivalent** — the ``level`` credible interval of the relative uplift against the
   control lies inside the region of practical equivalence ``[-rope, +rope]`` (Kruschke);
2. **ship <variant>** — its expected loss is below ``loss_threshold`` (the "threshold of
   caring") and it beats the control with probability >= 1/2;
3. **keep control** — the control's expected loss is below ``loss_threshold`` and the
   variant beats it with probability < 1/2;
4. **do not ship** — another arm is the safe choice (its expected loss is below the
   threshold);
5. otherwise **keep testing**.

The overall verdict ships the shippable variant with the smallest expected loss; else it
keeps testing while any variant is undecided; else "equivalent" when every variant is, else
"keep control". A flagged sample-ratio mismatch overrides everything.

Examples
--------
>>> import pandas as pd
>>> from cjlab.ab import compare_conversions
>>> from cjlab.ab.decision import decide, srm_check
>>> res = compare_conversions(pd.DataFrame({"variant": ["A", "B"], "users": [20000, 20000],
...                                         "conversions": [2000, 2300]}))
>>> decide(res, rope=0.01, loss_threshold=0.002).verdict
'ship B'
>>> srm_check({"A": 5000, "B": 5400}, {"A": 0.5, "B": 0.5}).flagged
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from cjlab import formatting as fmt
from cjlab.ab import exact, uplift
from cjlab.ab.conversions import ABInputError, as_prior, conversion_metrics, pick_control

VERDICTS = ("ship", "keep control", "equivalent", "do not ship", "keep testing")
#: What the one decision number is called wherever it is shown.
LOSS_LABEL = "expected loss"


def variant_verdict(
    chance_to_beat: float,
    uplift_low: float,
    uplift_high: float,
    loss: float,
    control_loss: float,
    rope: float,
    loss_threshold: float,
    other_safe: bool = False,
) -> str:
    """The verdict for one variant from its metrics (see the module docstring).

    ``loss`` and ``control_loss`` are the expected losses (against the best arm) of
    choosing this variant and of keeping the control; ``other_safe`` tells whether some
    other variant's expected loss is below the threshold. Returns ``"ship"``,
    ``"keep control"``, ``"equivalent"``, ``"do not ship"`` or ``"keep testing"``.
    """
    if rope > 0 and -rope <= uplift_low and uplift_high <= rope:
        return "equivalent"
    if loss < loss_threshold and chance_to_beat >= 0.5:
        return "ship"
    if control_loss < loss_threshold and chance_to_beat < 0.5:
        return "keep control"
    if other_safe:
        return "do not ship"
    return "keep testing"


@dataclass(frozen=True)
class Decision:
    """Verdicts of a test: ``table`` has one row per non-control variant; ``verdict`` is overall."""

    verdict: str
    reason: str
    table: pd.DataFrame
    control: str
    rope: float
    loss_threshold: float
    srm: SRMResult | None = None
    control_loss: float = float("nan")
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str | None:
        """``good`` (a decision), ``bad`` (SRM flagged) or ``None`` (keep testing)."""
        if self.srm is not None and self.srm.flagged:
            return "bad"
        return "good" if self.verdict != "keep testing" else None


def _loss(x: float) -> str:
    return f"{fmt.share(x)} of the control's value"


def decide(
    results: pd.DataFrame,
    rope: float = 0.01,
    loss_threshold: float = 0.001,
    srm: SRMResult | None = None,
) -> Decision:
    """Plain-language verdicts from a :func:`~cjlab.ab.compare_conversions` table.

    Parameters
    ----------
    results : output of ``compare_conversions`` or :func:`cjlab.ab.revenue.compare_revenue`
        (needs the relative uplift interval, ``chance_to_beat_control``, ``chance_to_be_best``,
        ``expected_loss_relative`` and ``is_control``).
    rope : half-width of the region of practical equivalence, relative uplift (0.01 = ±1 %).
    loss_threshold : the expected loss one is willing to risk, in units of the control's value
        (0.001 = 0.1 % of the control rate).
    srm : an :class:`SRMResult`; a flagged mismatch overrides every verdict with
        "do not trust: sample ratio mismatch".

    Returns
    -------
    Decision
    """
    if rope < 0 or loss_threshold <= 0:
        raise ABInputError(
            f"need rope >= 0 and loss_threshold > 0, got rope={rope}, "
            f"loss_threshold={loss_threshold}"
        )
    ctrl = results.attrs.get("control") or results.loc[results["is_control"], "variant"].iloc[0]
    loss = dict(zip(results["variant"], results["expected_loss_relative"]))
    c_loss = float(loss[ctrl])
    safe = {v for v, x in loss.items() if x < loss_threshold}
    rows = []
    for r in results[results["variant"] != ctrl].itertuples(index=False):
        v = variant_verdict(
            r.chance_to_beat_control,
            r.uplift_low,
            r.uplift_high,
            r.expected_loss_relative,
            c_loss,
            rope,
            loss_threshold,
            other_safe=bool(safe - {r.variant}),
        )
        rows.append(
            {
                "variant": r.variant,
                "verdict": f"ship {r.variant}" if v == "ship" else v,
                "chance_to_beat_control": r.chance_to_beat_control,
                "chance_to_be_best": r.chance_to_be_best,
                "uplift": r.uplift,
                "uplift_low": r.uplift_low,
                "uplift_high": r.uplift_high,
                "expected_loss_relative": r.expected_loss_relative,
            }
        )
    table = pd.DataFrame(rows)
    verdict, reason = _overall(table, ctrl, c_loss, rope, loss_threshold, srm)
    return Decision(verdict, reason, table, ctrl, rope, loss_threshold, srm, c_loss)


def _overall(
    table: pd.DataFrame,
    ctrl: str,
    c_loss: float,
    rope: float,
    threshold: float,
    srm: SRMResult | None,
) -> tuple[str, str]:
    ships = table[table["verdict"].str.startswith("ship")]
    if srm is not None and srm.flagged:
        return "do not trust: sample ratio mismatch", srm.message
    if len(ships):
        best = ships.sort_values(
            ["expected_loss_relative", "chance_to_be_best"], ascending=[True, False]
        ).iloc[0]
        return best["verdict"], (
            f"{best['variant']} beats {ctrl} with {fmt.share(best['chance_to_beat_control'])} "
            f"probability and is the best arm with {fmt.share(best['chance_to_be_best'])}; "
            f"relative uplift {fmt.share(best['uplift'], sign=True)} "
            f"({fmt.share(best['uplift_low'], sign=True)} to "
            f"{fmt.share(best['uplift_high'], sign=True)}); shipping it has an {LOSS_LABEL} of "
            f"{_loss(best['expected_loss_relative'])}, below the {fmt.share(threshold)} threshold"
        )
    if (table["verdict"] == "keep testing").any():
        open_ = table[table["verdict"] == "keep testing"]
        return "keep testing", (
            "not enough evidence yet for "
            + ", ".join(map(str, open_["variant"]))
            + f": no arm has an {LOSS_LABEL} below the threshold ({fmt.share(threshold)} of "
            f"the control's value), and the uplift interval is wider than the "
            f"±{fmt.share(rope)} equivalence region"
        )
    if (table["verdict"] == "equivalent").all():
        return "equivalent", (
            f"every variant's uplift interval lies within ±{fmt.share(rope)} "
            f"of {ctrl}: no practical difference"
        )
    return "keep control", (
        f"no variant beats {ctrl}; keeping it has an {LOSS_LABEL} of "
        f"{_loss(c_loss)}, below the {fmt.share(threshold)} threshold"
    )


# ---------------------------------------------------------------------------------------
# sample ratio mismatch
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SRMResult:
    """Chi-square test of the observed allocation against the planned split."""

    chi2: float
    p_value: float
    flagged: bool
    threshold: float
    table: pd.DataFrame
    message: str
    planned: str = "equal split"


def srm_check(
    observed: Mapping[str, int] | pd.Series | pd.DataFrame,
    planned: Mapping[str, float] | None = None,
    threshold: float = 0.001,
) -> SRMResult:
    """Sample-ratio-mismatch check (chi-square goodness of fit against the planned split).

    Parameters
    ----------
    observed : users per variant (mapping, Series, or a table with ``variant`` and ``users``).
    planned : planned share (or weight) per variant, normalised; ``None`` or empty: an equal
        split.
    threshold : flag when the p-value is below this (0.001 is the usual SRM alarm level,
        strict because the check runs on every test).

    Returns
    -------
    SRMResult with ``flagged`` and a loud ``message`` when flagged.
    """
    if isinstance(observed, pd.DataFrame):
        observed = observed.set_index("variant")["users"]
    obs = pd.Series(observed, dtype=float)
    obs.index = obs.index.map(str)
    if obs.empty or len(obs) < 2:
        raise ABInputError(f"SRM check needs at least two variants, got {list(obs.index)}")
    if (obs < 0).any():
        raise ABInputError(f"negative user counts: {obs[obs < 0].to_dict()}")
    described = "equal split"
    if not planned:
        planned = {k: 1 / len(obs) for k in obs.index}
    else:
        described = "planned split " + ", ".join(f"{k} {v:g}" for k, v in planned.items())
    plan = pd.Series({str(k): v for k, v in planned.items()}, dtype=float)
    missing = sorted(set(obs.index) ^ set(plan.index))
    if missing:
        raise ABInputError(
            f"planned split and observed variants differ: {missing} (variants are "
            f"{list(obs.index)}; planned_split names {list(plan.index)})"
        )
    plan = plan.reindex(obs.index)
    if (plan <= 0).any():
        raise ABInputError(f"planned shares must be > 0, got {plan.to_dict()}")
    plan = plan / plan.sum()
    expected = plan * obs.sum()
    chi2, p = stats.chisquare(obs.to_numpy(), expected.to_numpy())
    table = pd.DataFrame(
        {
            "variant": obs.index,
            "users": obs.to_numpy().astype(int),
            "observed_share": (obs / obs.sum()).to_numpy(),
            "planned_share": plan.to_numpy(),
            "expected_users": expected.to_numpy(),
        }
    )
    flagged = bool(p < threshold)
    if flagged:
        worst = (
            table.assign(d=table.observed_share - table.planned_share)
            .sort_values("d", key=np.abs)
            .iloc[-1]
        )
        message = (
            f"SAMPLE RATIO MISMATCH (p {_p(p)} < {fmt.plain(threshold)}): {worst['variant']} got "
            f"{fmt.share(worst['observed_share'], digits=2)} of users, planned "
            f"{fmt.share(worst['planned_share'], digits=2)}. Assignment or logging is "
            "broken; do not trust this test's results."
        )
    else:
        message = f"allocation matches the {described} (chi-square p {_p(p)})"
    return SRMResult(float(chi2), float(p), flagged, threshold, table, message, described)


def _p(p: float) -> str:
    """``'= 0.826'``, or ``'< 0.0001'`` for a p-value too small to print readably."""
    return f"= {fmt.plain(p)}" if p >= 1e-4 else "< 0.0001"


# ---------------------------------------------------------------------------------------
# evolution over the test's life
# ---------------------------------------------------------------------------------------


def evolution_from_counts(
    daily: pd.DataFrame, control: str | None = None, prior="uniform"
) -> pd.DataFrame:
    """Cumulative decision metrics at the end of every day, from new units per variant and day.

    Parameters
    ----------
    daily : columns variant, day, users, conversions: the units first exposed that day
        (:func:`cjlab.features.experiments.experiment_counts` with ``by=["day"]``).
    control, prior : as in :func:`~cjlab.ab.compare_conversions`.

    Returns
    -------
    Long DataFrame: date, variant, users, conversions, rate, chance_to_beat_control,
    chance_to_be_best, expected_loss, expected_loss_relative, is_control (cumulative up to
    that date). Conversions are attributed to the unit's first exposure day.
    """
    d = daily.assign(variant=daily["variant"].astype(str), day=pd.to_datetime(daily["day"]))
    variants = list(dict.fromkeys(d["variant"]))
    if len(variants) < 2:
        raise ABInputError(f"need at least two variants, got {variants}")
    ctrl = pick_control(variants, control)
    days = pd.date_range(d["day"].min(), d["day"].max(), freq="D")
    idx = pd.MultiIndex.from_product([days, variants], names=["date", "variant"])
    full = d.groupby(["day", "variant"])[["users", "conversions"]].sum()
    full.index.names = ["date", "variant"]
    cum = full.reindex(idx, fill_value=0).groupby(level="variant").cumsum()
    users = cum["users"].to_numpy(float).reshape(len(days), len(variants))
    conv = cum["conversions"].to_numpy(float).reshape(len(days), len(variants))
    pr = as_prior(prior)
    c = variants.index(ctrl)
    keys = (
        "rate",
        "chance_to_beat_control",
        "chance_to_be_best",
        "expected_loss",
        "expected_loss_relative",
    )
    metrics = {k: np.empty_like(users) for k in keys}
    for t in range(len(days)):
        m = conversion_metrics(
            pr.a + conv[t], pr.b + users[t] - conv[t], control=c, intervals=False
        )
        for k in keys:
            metrics[k][t] = m[k]
    out = pd.DataFrame(
        {
            "date": np.repeat(days, len(variants)),
            "variant": variants * len(days),
            "users": users.ravel().astype(int),
            "conversions": conv.ravel().astype(int),
            **{k: v.ravel() for k, v in metrics.items()},
        }
    )
    out["is_control"] = out["variant"] == ctrl
    out.attrs["control"] = ctrl
    return out


def daily_evolution(
    exposures: pd.DataFrame, control: str | None = None, prior="uniform"
) -> pd.DataFrame:
    """:func:`evolution_from_counts` from raw exposures of one experiment (``variant,
    unit_id, converted, exposed_at``); a unit counts on the day it was first exposed and
    converted if any of its rows did."""
    from cjlab.ab.conversions import summarise_exposures
    from cjlab.features.experiments import experiment_counts

    for col in ("variant", "unit_id", "converted", "exposed_at"):
        if col not in exposures.columns:
            raise ABInputError(f"experiment_exposures: missing column {col!r}")
    summarise_exposures(exposures)  # same checks as compare_conversions (0/1, one experiment)
    ex = exposures.assign(experiment="", variant=exposures["variant"].astype(str))
    order = list(dict.fromkeys(ex["variant"]))
    daily = experiment_counts(
        ex[["experiment", "variant", "unit_id", "converted", "exposed_at"]], by=["day"]
    )
    daily = daily.assign(_o=daily["variant"].map(order.index)).sort_values(["_o", "day"])
    return evolution_from_counts(daily.drop(columns="_o"), control=control, prior=prior)


def _maybe_equivalent(
    alpha_c: float, beta_c: float, alpha_v: float, beta_v: float, rope: float, level: float
) -> bool:
    """False when the uplift interval is certainly wider than the ROPE, so the exact CDFs need
    not be evaluated: with every parameter >= 10, log R is close to normal, and an interval
    narrower than 2/3 of ``2 z sd(log R)`` (sd exact, from trigamma functions) is out of reach."""
    if min(alpha_c, beta_c, alpha_v, beta_v) < 10:
        return True
    t = special.polygamma(1, [alpha_c, alpha_c + beta_c, alpha_v, alpha_v + beta_v])
    sd = math.sqrt(max(t[0] - t[1] + t[2] - t[3], 0.0))
    z = special.ndtri(1 - (1 - level) / 2)
    return 2 * z * sd / 1.5 <= math.log((1 + rope) / (1 - rope))


def fast_verdict(
    alpha_c: float,
    beta_c: float,
    alpha_v: float,
    beta_v: float,
    rope: float,
    loss_threshold: float,
    level: float = 0.95,
) -> str:
    """The decision rule for a two-arm test without root-finding (used in planning simulations).

    "equivalent" is tested through the ratio CDF at ``1 ± rope`` (the interval lies inside
    the ROPE exactly when ``F_R(1 - rope) <= (1-level)/2`` and ``F_R(1 + rope) >= 1 - (1-level)/2``),
    which gives the same verdict as :func:`variant_verdict` on the exact quantiles.
    """
    tail = (1 - level) / 2
    if rope > 0 and _maybe_equivalent(alpha_c, beta_c, alpha_v, beta_v, rope, level):
        lo = uplift.ratio_cdf_pdf(1 - rope, alpha_c, beta_c, alpha_v, beta_v)[0]
        if lo <= tail:
            hi = uplift.ratio_cdf_pdf(1 + rope, alpha_c, beta_c, alpha_v, beta_v)[0]
            if hi >= 1 - tail:
                return "equivalent"
    p, _, _, ship = exact.pair_terms(alpha_c, beta_c, alpha_v, beta_v)
    if ship < loss_threshold and p >= 0.5:
        return "ship"
    if alpha_c > 1:
        kappa = (alpha_c + beta_c - 1) / (alpha_c - 1)
        keep = ship + alpha_v / (alpha_v + beta_v) * kappa - 1
        if keep < loss_threshold and p < 0.5:
            return "keep control"
    return "keep testing"


def verdict_grid(
    results: pd.DataFrame, ropes=(0.01, 0.02, 0.05, 0.10), thresholds=(1e-3, 5e-3, 1e-2, 5e-2)
) -> pd.DataFrame:
    """Overall verdict for every (ROPE, loss threshold) pair: the static stand-in for the
    interactive panel. Rows: loss threshold; columns: ROPE."""
    grid = {
        f"ROPE ±{fmt.share(r)}": [decide(results, r, t).verdict for t in thresholds] for r in ropes
    }
    return pd.DataFrame(
        grid, index=pd.Index([fmt.share(t, digits=2) for t in thresholds], name="loss threshold")
    ).reset_index()
