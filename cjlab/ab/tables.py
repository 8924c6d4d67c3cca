"""Stakeholder tables of an :class:`~cjlab.ab.analysis.ExperimentAnalysis`: words for headers,
units in the cells (formatted by :mod:`cjlab.formatting`, as in the headline), few columns.

Each function returns a small DataFrame of text, ready for ``cjlab.notebook.table``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cjlab import formatting as fmt

if TYPE_CHECKING:
    from cjlab.ab.analysis import ExperimentAnalysis

LOSS = "Expected loss (share of the control's value)"


def _arm(variant, is_control: bool) -> str:
    """The variant's name, marked when it is the control (unless its name says so already)."""
    v = str(variant)
    return f"{v} (control)" if is_control and "control" not in v.lower() else v


def _iv(x, lo, hi, unit: str = "share", currency: str | None = None, sign: bool = False) -> str:
    if unit == "share":
        main, a, b = (fmt.share(v, sign=sign) for v in (x, lo, hi))
        return f"{main} ({a} to {b})"
    return fmt.interval(x, lo, hi, unit, currency=currency)


def results_caption(a: ExperimentAnalysis) -> str:
    return (
        f"{a.experiment}: conversion per variant ({a.prior.label} prior, {fmt.share(a.level)} "
        f"intervals; equivalence ±{fmt.share(a.rope)}, loss threshold "
        f"{fmt.share(a.loss_threshold)} of the control rate)"
    )


def revenue_summaries(a: ExperimentAnalysis) -> dict[str, pd.DataFrame | None]:
    """Revenue per user by method, for :func:`cjlab.ab.plots.revenue_comparison`."""
    return {
        "two-part Bayesian bootstrap": a.revenue,
        "normal approximation": a.revenue_normal,
        "two-part PyMC model": getattr(a.revenue_model, "summary_", None),
    }


def results(a: ExperimentAnalysis) -> pd.DataFrame:
    """Conversion per variant with the verdict: the table under the headline."""
    verdict = dict(zip(a.decision.table["variant"], a.decision.table["verdict"]))
    rows = []
    for r in a.results.itertuples():
        ctrl = bool(r.is_control)
        rows.append(
            {
                "Variant": _arm(r.variant, ctrl),
                "Users": fmt.count(r.users),
                "Conversion rate": _iv(r.rate, r.rate_low, r.rate_high),
                "Uplift vs control": "–"
                if ctrl
                else _iv(r.uplift, r.uplift_low, r.uplift_high, sign=True),
                "Chance to beat control": "–" if ctrl else fmt.share(r.chance_to_beat_control),
                LOSS: fmt.share(r.expected_loss_relative),
                "Verdict": "–" if ctrl else verdict.get(r.variant, ""),
            }
        )
    return pd.DataFrame(rows)


def counts(a: ExperimentAnalysis) -> pd.DataFrame:
    """The rest of each variant's comparison: conversions, the difference in percentage points
    and the chance of being the best of all variants (beside :func:`results`)."""
    return pd.DataFrame(
        {
            "Variant": [_arm(v, bool(c)) for v, c in zip(a.results["variant"], a.results["is_control"])],
            "Users": a.results["users"].map(fmt.count),
            "Conversions": a.results["conversions"].map(fmt.count),
            "Difference vs control": [
                "–" if c else fmt.pp(d) for d, c in zip(a.results["abs_uplift"], a.results["is_control"])
            ],
            "Chance to be best": a.results["chance_to_be_best"].map(fmt.share),
        }
    )


def grid(a: ExperimentAnalysis) -> pd.DataFrame:
    """The verdict for other decision rules: rows the loss threshold, columns the equivalence
    region (:attr:`ExperimentAnalysis.grid` in words)."""
    g = a.grid
    return g.rename(
        columns={
            c: c.replace("ROPE", "Equivalent within") if c.startswith("ROPE") else c for c in g.columns
        }
    ).rename(columns={"loss threshold": "Loss threshold (share of the control's value)"})


def revenue(a: ExperimentAnalysis) -> pd.DataFrame:
    """Revenue per user per variant (two-part Bayesian bootstrap) with its decision."""
    cur = a.currency or None
    verdict = dict(zip(a.revenue_decision.table["variant"], a.revenue_decision.table["verdict"]))
    rows = []
    for r in a.revenue.itertuples():
        ctrl = bool(r.is_control)
        rows.append(
            {
                "Variant": _arm(r.variant, ctrl),
                "Paying users": f"{fmt.count(r.converters)} of {fmt.count(r.users)}",
                "Spend per paying user": fmt.money(r.spend_per_converter, cur),
                "Revenue per user": _iv(r.revenue_per_user, r.rpu_low, r.rpu_high, "money", cur),
                "Uplift vs control": "–"
                if ctrl
                else _iv(r.uplift, r.uplift_low, r.uplift_high, sign=True),
                "Chance to beat control": "–" if ctrl else fmt.share(r.chance_to_beat_control),
                LOSS: fmt.share(r.expected_loss_relative),
                "Verdict": "–" if ctrl else verdict.get(r.variant, ""),
            }
        )
    return pd.DataFrame(rows)


def revenue_methods(a: ExperimentAnalysis) -> pd.DataFrame:
    """For analysts: the uplift interval of revenue per user by each method."""
    methods = {"two-part Bayesian bootstrap": a.revenue, "normal approximation": a.revenue_normal}
    if a.revenue_model is not None:
        methods["two-part PyMC model"] = a.revenue_model.summary_
    rows = []
    for label, df in methods.items():
        for r in df[df["variant"] != a.control].itertuples():
            rows.append(
                {
                    "Method": label,
                    "Variant": str(r.variant),
                    "Revenue per user": _iv(
                        r.revenue_per_user, r.rpu_low, r.rpu_high, "money", a.currency or None
                    ),
                    "Uplift vs control": _iv(r.uplift, r.uplift_low, r.uplift_high, sign=True),
                    "Chance to beat control": fmt.share(r.chance_to_beat_control),
                }
            )
    return pd.DataFrame(rows)


def srm(a: ExperimentAnalysis) -> pd.DataFrame:
    t = a.srm.table
    return pd.DataFrame(
        {
            "Variant": t["variant"].astype(str),
            "Users": t["users"].map(fmt.count),
            "Observed share": t["observed_share"].map(lambda v: fmt.share(v, digits=2)),
            "Planned share": t["planned_share"].map(lambda v: fmt.share(v, digits=2)),
            "Expected users": t["expected_users"].map(fmt.count),
        }
    )


def segments(a: ExperimentAnalysis, variant: str | None = None) -> pd.DataFrame:
    """Uplift per segment: the partially pooled model when fitted, else the observed rates."""
    col = a.segment_column
    if variant is not None and variant in a.segment_models:
        s = a.segment_models[variant].summary_
        return pd.DataFrame(
            {
                col.capitalize(): s["segment"],
                "Users (control / variant)": [
                    f"{fmt.count(x)} / {fmt.count(y)}"
                    for x, y in zip(s["users_control"], s["users_variant"])
                ],
                "Observed rates (control / variant)": [
                    f"{fmt.share(x)} / {fmt.share(y)}"
                    for x, y in zip(s["rate_control"], s["rate_variant"])
                ],
                "Uplift (partial pooling)": [
                    _iv(u, lo, hi, sign=True)
                    for u, lo, hi in zip(s["uplift"], s["uplift_low"], s["uplift_high"])
                ],
                "Chance to beat control": [
                    f"{fmt.share(p)} (± {fmt.share(e)})"
                    for p, e in zip(s["chance_to_beat_control"], s["chance_to_beat_control_mcse"])
                ],
            }
        )
    c = a.segment_counts
    wide = c.assign(rate=c["conversions"] / c["users"]).pivot(
        index=col, columns="variant", values="rate"
    )
    out = wide.map(fmt.share).reset_index()
    out.columns = [col.capitalize(), *[f"Observed conversion rate, {v}" for v in wide.columns]]
    return out


def stages(a: ExperimentAnalysis) -> pd.DataFrame:
    s = a.stages
    return pd.DataFrame(
        {
            "Stage": s["stage"],
            "Variant": s["variant"].astype(str),
            "Users": s["users"].map(fmt.count),
            "Observed conversion rate": (s["conversions"] / s["users"]).map(fmt.share),
        }
    )


def plan(a: ExperimentAnalysis) -> pd.DataFrame:
    """The planning scenario, one measure per row (± is the Monte Carlo standard error)."""
    s = a.plan.summary
    rows = {
        "Baseline rate": fmt.share(s["baseline"]),
        "Smallest lift worth finding": fmt.share(s["min_effect"]),
        "Users per day": fmt.count(s["users_per_day"]),
        "Power: tests that ship a real lift": f"{fmt.share(s['power'])} (± {fmt.share(s['power_se'])})",
        "False positives: tests that ship a change without effect": (
            f"{fmt.share(s['false_positive_rate'])} (± {fmt.share(s['false_positive_rate_se'])})"
        ),
        "Median days to a decision": fmt.days(s["days_to_decision_median"]),
        "Undecided after the longest test": fmt.share(s["undecided_share"]),
    }
    return pd.DataFrame({"Measure": list(rows), "Value": list(rows.values())})


def sensitivity(a: ExperimentAnalysis) -> pd.DataFrame:
    s = a.sensitivity
    return pd.DataFrame(
        {
            "Prior": s["prior"],
            "Variant": s["variant"].astype(str),
            "Uplift vs control": [
                _iv(u, lo, hi, sign=True)
                for u, lo, hi in zip(s["uplift"], s["uplift_low"], s["uplift_high"])
            ],
            "Chance to beat control": s["chance_to_beat_control"].map(fmt.share),
            LOSS: s["expected_loss_relative"].map(fmt.share),
        }
    )


def truth(a: ExperimentAnalysis) -> pd.DataFrame:
    t = a.truth_check
    return pd.DataFrame(
        {
            "Check": t["check"],
            "Planted": t["planted"].map(lambda v: fmt.share(v, sign=True)),
            "Estimate (interval)": [
                fmt.number(e) if pd.isna(lo) else _iv(e, lo, hi, sign=True)
                for e, lo, hi in zip(t["estimate"], t["low"], t["high"])
            ],
            "Recovered": t["recovered"].map({True: "yes", False: "no"}),
        }
    )
