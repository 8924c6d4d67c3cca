"""Decisions and trust checks: ROPE + expected-loss verdicts, sample-ratio mismatch, evolution.

Decision rule (per variant against the control; thresholds in units of the control's rate)

1. **equivalent** — the ``ci`` credible interval of the relative uplift lies inside the region
   of practical equivalence ``[-rope, +rope]`` (Kruschke's ROPE rule);
2. **ship <variant>** — the expected loss of shipping it, ``E[max(p_c - p_v, 0) / p_c]``, is
   below ``loss_threshold`` (the "threshold of caring");
3. **keep control** — the expected loss of keeping the control instead,
   ``E[max(p_v - p_c, 0) / p_c]``, is below ``loss_threshold``;
4. otherwise **keep testing**.

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

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from cjlab.ab import exact
from cjlab.ab.conversions import (
    ABInputError,
    as_prior,
    conversion_metrics,
    pick_control,
    summarise_exposures,
)

VERDICTS = ("ship", "keep control", "equivalent", "keep testing")


def variant_verdict(chance_to_beat: float, uplift_low: float, uplift_high: float,
                    ship_loss: float, keep_loss: float, rope: float, loss_threshold: float) -> str:
    """The verdict for one variant from its metrics (see the module docstring).

    Returns ``"ship"``, ``"keep control"``, ``"equivalent"`` or ``"keep testing"``.
    """
    if rope > 0 and -rope <= uplift_low and uplift_high <= rope:
        return "equivalent"
    if ship_loss < loss_threshold and chance_to_beat >= 0.5:
        return "ship"
    if keep_loss < loss_threshold and chance_to_beat < 0.5:
        return "keep control"
    return "keep testing"


@dataclass
class Decision:
    """Verdicts of a test: ``table`` has one row per non-control variant; ``verdict`` is overall."""

    verdict: str
    reason: str
    table: pd.DataFrame
    control: str
    rope: float
    loss_threshold: float
    srm: SRMResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``good`` (a decision), ``bad`` (SRM flagged) or ``neutral``."""
        if self.srm is not None and self.srm.flagged:
            return "bad"
        return "good" if self.verdict != "keep testing" else "neutral"


def decide(results: pd.DataFrame, rope: float = 0.01, loss_threshold: float = 0.001,
           srm: SRMResult | None = None) -> Decision:
    """Plain-language verdicts from a :func:`~cjlab.ab.compare_conversions` table.

    Parameters
    ----------
    results : output of ``compare_conversions`` or ``revenue_normal_approx`` (needs the relative
        uplift interval, ``chance_to_beat_control``, ``chance_to_be_best`` and the
        ``loss_vs_control_relative`` / ``control_loss_relative`` columns).
    rope : half-width of the region of practical equivalence, relative uplift (0.01 = ±1 %).
    loss_threshold : the expected loss one is willing to risk, in units of the control's rate
        (0.001 = 0.1 % of the control rate).
    srm : an :class:`SRMResult`; a flagged mismatch overrides every verdict with
        "do not trust: sample ratio mismatch".

    Returns
    -------
    Decision
    """
    if rope < 0 or loss_threshold <= 0:
        raise ABInputError(f"need rope >= 0 and loss_threshold > 0, got rope={rope}, "
                           f"loss_threshold={loss_threshold}")
    ctrl = results.attrs.get("control") or results.loc[results["is_control"], "variant"].iloc[0]
    rows = []
    for r in results[results["variant"] != ctrl].itertuples(index=False):
        v = variant_verdict(r.chance_to_beat_control, r.uplift_low, r.uplift_high,
                            r.loss_vs_control_relative, r.control_loss_relative, rope, loss_threshold)
        label = f"ship {r.variant}" if v == "ship" else v
        rows.append({"variant": r.variant, "verdict": label, "chance_to_beat_control":
                     r.chance_to_beat_control, "uplift": r.uplift, "uplift_low": r.uplift_low,
                     "uplift_high": r.uplift_high, "risk_if_shipped": r.loss_vs_control_relative,
                     "risk_if_kept": r.control_loss_relative, "chance_to_be_best": r.chance_to_be_best})
    table = pd.DataFrame(rows)
    ships = table[table["verdict"].str.startswith("ship")]
    if srm is not None and srm.flagged:
        verdict = "do not trust: sample ratio mismatch"
        reason = srm.message
    elif len(ships):
        best = ships.sort_values("chance_to_be_best", ascending=False).iloc[0]
        verdict = best["verdict"]
        reason = (f"{best['variant']} beats {ctrl} with {best['chance_to_beat_control']:.1%} "
                  f"probability; relative uplift {best['uplift']:+.1%} "
                  f"({best['uplift_low']:+.1%} to {best['uplift_high']:+.1%}); shipping risks "
                  f"{best['risk_if_shipped']:.3%} of the control rate, below the "
                  f"{loss_threshold:.3%} threshold")
    elif (table["verdict"] == "keep testing").any():
        verdict = "keep testing"
        open_ = table[table["verdict"] == "keep testing"]
        reason = ("not enough evidence yet for " + ", ".join(open_["variant"]) +
                  f": neither shipping nor keeping {ctrl} is below the expected-loss threshold "
                  f"({loss_threshold:.3%} of the control rate), and the uplift interval is "
                  f"wider than the ±{rope:.1%} equivalence region")
    elif (table["verdict"] == "equivalent").all():
        verdict = "equivalent"
        reason = (f"every variant's uplift interval lies within ±{rope:.1%} of {ctrl}: "
                  "no practical difference")
    else:
        verdict = "keep control"
        reason = (f"no variant beats {ctrl}; keeping it risks less than {loss_threshold:.3%} "
                  "of the control rate")
    return Decision(verdict, reason, table, ctrl, rope, loss_threshold, srm)


# ---------------------------------------------------------------------------------------
# sample ratio mismatch
# ---------------------------------------------------------------------------------------

@dataclass
class SRMResult:
    """Chi-square test of the observed allocation against the planned split."""

    chi2: float
    p_value: float
    flagged: bool
    threshold: float
    table: pd.DataFrame
    message: str


def srm_check(observed: Mapping[str, int] | pd.Series | pd.DataFrame,
              planned: Mapping[str, float] | None = None, threshold: float = 0.001) -> SRMResult:
    """Sample-ratio-mismatch check (chi-square goodness of fit against the planned split).

    Parameters
    ----------
    observed : users per variant (mapping, Series, or a table with ``variant`` and ``users``).
    planned : planned share per variant (normalised; default: equal split).
    threshold : flag when the p-value is below this (0.001 is the usual SRM alarm level,
        strict because the check runs on every test).

    Returns
    -------
    SRMResult with ``flagged`` and a loud ``message`` when flagged.
    """
    if isinstance(observed, pd.DataFrame):
        observed = observed.set_index("variant")["users"]
    obs = pd.Series(observed, dtype=float)
    if obs.empty or len(obs) < 2:
        raise ABInputError(f"SRM check needs at least two variants, got {list(obs.index)}")
    if (obs < 0).any():
        raise ABInputError(f"negative user counts: {obs[obs < 0].to_dict()}")
    if planned is None:
        planned = {k: 1 / len(obs) for k in obs.index}
    plan = pd.Series(planned, dtype=float)
    missing = sorted(set(obs.index) ^ set(plan.index))
    if missing:
        raise ABInputError(f"planned split and observed variants differ: {missing}")
    plan = plan.reindex(obs.index)
    if (plan <= 0).any():
        raise ABInputError(f"planned shares must be > 0, got {plan.to_dict()}")
    plan = plan / plan.sum()
    expected = plan * obs.sum()
    chi2, p = stats.chisquare(obs.to_numpy(), expected.to_numpy())
    table = pd.DataFrame({"variant": obs.index, "users": obs.to_numpy().astype(int),
                          "observed_share": (obs / obs.sum()).to_numpy(),
                          "planned_share": plan.to_numpy(), "expected_users": expected.to_numpy()})
    flagged = bool(p < threshold)
    if flagged:
        worst = table.assign(d=table.observed_share - table.planned_share).sort_values(
            "d", key=np.abs).iloc[-1]
        message = (f"SAMPLE RATIO MISMATCH (p = {p:.2g} < {threshold:g}): {worst['variant']} got "
                   f"{worst['observed_share']:.2%} of users, planned {worst['planned_share']:.2%}. "
                   "Assignment or logging is broken; do not trust this test's results.")
    else:
        message = f"allocation matches the planned split (chi-square p = {p:.2g})"
    return SRMResult(float(chi2), float(p), flagged, threshold, table, message)


# ---------------------------------------------------------------------------------------
# evolution over the test's life
# ---------------------------------------------------------------------------------------

def daily_evolution(exposures: pd.DataFrame, control: str | None = None, prior="uniform",
                    time: str = "exposed_at") -> pd.DataFrame:
    """Cumulative decision metrics at the end of every day of a test.

    Parameters
    ----------
    exposures : raw exposures with ``variant, unit_id, converted`` and a timestamp column.
    control, prior : as in :func:`~cjlab.ab.compare_conversions`.
    time : timestamp column.

    Returns
    -------
    Long DataFrame: date, variant, users, conversions, rate, chance_to_beat_control,
    chance_to_be_best, expected_loss, expected_loss_relative (cumulative up to that date).
    Conversions are attributed to the exposure day (the usual simplification).
    """
    for col in ("variant", "unit_id", "converted", time):
        if col not in exposures.columns:
            raise ABInputError(f"experiment_exposures: missing column {col!r}")
    summarise_exposures(exposures)   # same checks as compare_conversions (0/1, one experiment)
    d = exposures[["variant", "unit_id", "converted", time]].copy()
    d["variant"] = d["variant"].astype(str)
    d = d.sort_values(time).drop_duplicates(["variant", "unit_id"], keep="first")
    # a unit converted if any of its rows did
    conv = exposures.assign(variant=exposures["variant"].astype(str)).groupby(
        ["variant", "unit_id"])["converted"].max()
    d["converted"] = conv.reindex(pd.MultiIndex.from_frame(d[["variant", "unit_id"]])).to_numpy()
    d["date"] = pd.to_datetime(d[time]).dt.normalize()
    variants = list(dict.fromkeys(d["variant"]))
    if len(variants) < 2:
        raise ABInputError(f"need at least two variants, got {variants}")
    ctrl = pick_control(variants, control)
    daily = d.groupby(["date", "variant"]).agg(users=("unit_id", "size"),
                                               conversions=("converted", "sum"))
    days = pd.date_range(d["date"].min(), d["date"].max(), freq="D")
    full = daily.reindex(pd.MultiIndex.from_product([days, variants], names=["date", "variant"]),
                         fill_value=0)
    cum = full.groupby(level="variant").cumsum()
    pr = as_prior(prior)
    c = variants.index(ctrl)
    rows = []
    for day in days:
        block = cum.loc[day].reindex(variants)
        a = pr.a + block["conversions"].to_numpy(float)
        b = pr.b + (block["users"] - block["conversions"]).to_numpy(float)
        m = conversion_metrics(a, b, control=c, intervals=False)
        for i, v in enumerate(variants):
            rows.append({"date": day, "variant": v, "users": int(block["users"].iloc[i]),
                         "conversions": int(block["conversions"].iloc[i]),
                         "rate": m["rate"][i], "chance_to_beat_control": m["chance_to_beat_control"][i],
                         "chance_to_be_best": m["chance_to_be_best"][i],
                         "expected_loss": m["expected_loss"][i],
                         "expected_loss_relative": m["expected_loss_relative"][i],
                         "is_control": v == ctrl})
    out = pd.DataFrame(rows)
    out.attrs["control"] = ctrl
    return out


def fast_verdict(alpha_c: float, beta_c: float, alpha_v: float, beta_v: float, rope: float,
                 loss_threshold: float, ci: float = 0.95) -> str:
    """The decision rule for one variant without root-finding (used in planning simulations).

    "equivalent" is tested through the ratio CDF at ``1 ± rope`` (the interval lies inside
    the ROPE exactly when ``F_R(1 - rope) <= (1-ci)/2`` and ``F_R(1 + rope) >= 1 - (1-ci)/2``),
    which gives the same verdict as :func:`variant_verdict` on the exact quantiles.
    """
    tail = (1 - ci) / 2
    if rope > 0:
        lo = exact.ratio_cdf_pdf(1 - rope, alpha_c, beta_c, alpha_v, beta_v)[0]
        if lo <= tail:
            hi = exact.ratio_cdf_pdf(1 + rope, alpha_c, beta_c, alpha_v, beta_v)[0]
            if hi >= 1 - tail:
                return "equivalent"
    p = exact.prob_beat(alpha_c, beta_c, alpha_v, beta_v)
    ship = exact.loss_vs_control_relative(alpha_c, beta_c, alpha_v, beta_v)
    if ship < loss_threshold and p >= 0.5:
        return "ship"
    if alpha_c > 1:
        kappa = (alpha_c + beta_c - 1) / (alpha_c - 1)
        keep = ship + alpha_v / (alpha_v + beta_v) * kappa - 1
        if keep < loss_threshold and p < 0.5:
            return "keep control"
    return "keep testing"


def verdict_grid(results: pd.DataFrame, ropes=(0.01, 0.02, 0.05, 0.10),
                 thresholds=(1e-3, 5e-3, 1e-2, 5e-2)) -> pd.DataFrame:
    """Overall verdict for every (ROPE, loss threshold) pair: the static stand-in for the
    interactive panel. Rows: loss threshold; columns: ROPE."""
    grid = {f"ROPE ±{r:.1%}": [decide(results, r, t).verdict for t in thresholds] for r in ropes}
    return pd.DataFrame(grid, index=pd.Index([f"{t:.2%}" for t in thresholds],
                                             name="loss threshold")).reset_index()
