"""The headline and the KPIs of an :class:`~cjlab.ab.analysis.Any`.

One wording for the report, ``kpis.json``, the terminal summary and the KPI trend page. The
decision number is named once — the *expected loss*, in units of the control's value — and
shown with the same value everywhere. Units: rates and relative uplifts are ``share``,
differences of rates ``pp``, revenue per user ``money`` in the analysis' currency.
Monte-Carlo figures (revenue, planning) carry a ``tolerance``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cjlab import formatting as fmt
from cjlab.results import KPI, Headline

LOSS_KPI_LABEL = "Expected loss (share of the control's value)"


def _iv(x: float, lo: float, hi: float) -> str:
    return f"{fmt.share(x, sign=True)} ({fmt.share(lo, sign=True)} to {fmt.share(hi, sign=True)})"


def _conversion_item(a: Any, r) -> str:
    c_rate = float(a.results.loc[a.results["is_control"], "rate"].iloc[0])
    return (
        f"conversion {fmt.share(r.rate)} vs {fmt.share(c_rate)} ({fmt.pp(r.abs_uplift)}); "
        f"uplift {_iv(r.uplift, r.uplift_low, r.uplift_high)}; chance to beat "
        f"{a.control} {fmt.share(r.chance_to_beat_control)}; expected loss "
        f"{fmt.share(r.expected_loss_relative)} of the control rate"
    )


def _revenue_item(a: Any, r) -> str:
    rev = a.revenue
    c_rpu = float(rev.loc[rev["is_control"], "revenue_per_user"].iloc[0])
    return (
        f"revenue per user {fmt.money(r.revenue_per_user, a.currency)} vs "
        f"{fmt.money(c_rpu, a.currency)}; uplift {_iv(r.uplift, r.uplift_low, r.uplift_high)}; "
        f"chance to beat {a.control} {fmt.share(r.chance_to_beat_control)}; expected loss "
        f"{fmt.share(r.expected_loss_relative)} of the control's revenue per user"
    )


def headline(a: Any) -> Headline:
    """Verdict first, then why, the figures per variant and the trust check."""
    d = a.decided
    users = int(a.counts["users"].sum())
    what = (
        f"{a.experiment}: {len(a.counts)} variants, {fmt.count(users)} users (control: {a.control})"
    )
    if a.stages is not None and len(a.stages["stage"].unique()) == 1:
        what += f", tested at the {a.stages['stage'].iloc[0]} stage"
    items: list[tuple[str, str]] = [
        ("Experiment", what),
        ("Decided on", a.metric_label),
        ("Why", d.reason),
    ]
    by_revenue = a.metric == "revenue"
    if by_revenue:
        for r in a.revenue[~a.revenue["is_control"]].itertuples():
            items.append((str(r.variant), _revenue_item(a, r)))
    else:
        for r in a.results[~a.results["is_control"]].itertuples():
            items.append((str(r.variant), _conversion_item(a, r)))
    if a.revenue is not None and not by_revenue:
        rv = a.revenue[~a.revenue["is_control"]]
        items.append(
            (
                "Revenue per user",
                "; ".join(
                    f"{r.variant}: {fmt.money(r.revenue_per_user, a.currency)}, uplift "
                    f"{_iv(r.uplift, r.uplift_low, r.uplift_high)}"
                    for r in rv.itertuples()
                ),
            )
        )
    if by_revenue:
        items.append(
            (
                "Conversion",
                "; ".join(
                    f"{r.variant}: uplift {_iv(r.uplift, r.uplift_low, r.uplift_high)}"
                    for r in a.results[~a.results["is_control"]].itertuples()
                ),
            )
        )
    items.append(("Traffic split", a.srm.message))
    return Headline(f"Verdict: {d.verdict}", tuple(items), d.status)


def _tol(lo: float, hi: float) -> float:
    """Monte-Carlo tolerance of a simulated quantile-based figure: 2 % of its interval width."""
    return float(0.02 * abs(hi - lo)) if np.isfinite(hi - lo) else 0.0


def _interval(r, prefix: str = "uplift") -> dict[str, float]:
    return {"low": getattr(r, f"{prefix}_low"), "high": getattr(r, f"{prefix}_high")}


def _best(table):
    return table[~table["is_control"]].sort_values("chance_to_be_best", ascending=False).iloc[0]


def _variant_conversion_kpis(a: Any, r, g: str) -> list[KPI]:
    common = {"group": g, "topic": "conversion"}
    return [
        KPI(
            "uplift",
            r.uplift,
            "Relative uplift",
            unit="share",
            n=int(r.users),
            higher_is_better=True,
            level=a.level,
            **_interval(r),
            **common,
        ),
        KPI(
            "rate_difference",
            r.abs_uplift,
            "Difference of conversion rates",
            unit="pp",
            higher_is_better=True,
            level=a.level,
            **_interval(r, "abs_uplift"),
            **common,
        ),
        KPI(
            "chance_to_beat_control",
            r.chance_to_beat_control,
            "Chance to beat control",
            unit="share",
            higher_is_better=True,
            **common,
        ),
        KPI(
            "expected_loss_relative",
            r.expected_loss_relative,
            LOSS_KPI_LABEL,
            unit="share",
            higher_is_better=False,
            **common,
        ),
    ]


def _conversion_kpis(a: Any, lead: bool) -> list[KPI]:
    best = _best(a.results)
    out = [
        KPI(
            "best_variant_uplift",
            best.uplift,
            f"Uplift of {best.variant} (most likely best) vs {a.control}",
            unit="share",
            n=int(best.users),
            higher_is_better=True,
            topic="conversion",
            headline=lead,
            level=a.level,
            **_interval(best),
        ),
        KPI(
            "best_variant_chance_to_beat_control",
            best.chance_to_beat_control,
            f"Chance that {best.variant} beats {a.control}",
            unit="share",
            higher_is_better=True,
            topic="conversion",
            headline=lead,
        ),
    ]
    for r in a.results.itertuples():
        g = f"{a.experiment}:{r.variant}"
        out.append(
            KPI(
                "conversion_rate",
                r.rate,
                "Conversion rate",
                unit="share",
                low=r.rate_low,
                high=r.rate_high,
                group=g,
                n=int(r.users),
                topic="conversion",
                level=a.level,
            )
        )
        if not r.is_control:
            out += _variant_conversion_kpis(a, r, g)
    return out


def _variant_revenue_kpis(a: Any, r, g: str, n_draws: int) -> list[KPI]:
    se = float(np.sqrt(r.chance_to_beat_control * (1 - r.chance_to_beat_control) / n_draws))
    common = {"group": g, "topic": "revenue"}
    return [
        KPI(
            "revenue_uplift",
            r.uplift,
            "Relative uplift of revenue per user",
            unit="share",
            n=int(r.users),
            higher_is_better=True,
            level=a.level,
            tolerance=_tol(r.uplift_low, r.uplift_high),
            **_interval(r),
            **common,
        ),
        KPI(
            "revenue_chance_to_beat_control",
            r.chance_to_beat_control,
            "Chance to beat control (revenue per user)",
            unit="share",
            higher_is_better=True,
            tolerance=4 * se + 1e-9,
            **common,
        ),
        KPI(
            "revenue_expected_loss_relative",
            r.expected_loss_relative,
            LOSS_KPI_LABEL + ", revenue per user",
            unit="share",
            higher_is_better=False,
            tolerance=0.05 * float(r.expected_loss_relative) + 1e-9,
            **common,
        ),
    ]


def _revenue_kpis(a: Any, lead: bool) -> list[KPI]:
    rev, cur = a.revenue, a.currency or None
    best = _best(rev)
    out = [
        KPI(
            "best_variant_revenue_uplift",
            best.uplift,
            f"Revenue-per-user uplift of {best.variant} (most likely best) vs {a.control}",
            unit="share",
            n=int(best.users),
            higher_is_better=True,
            topic="revenue",
            headline=lead,
            level=a.level,
            tolerance=_tol(best.uplift_low, best.uplift_high),
            **_interval(best),
        )
    ]
    for r in rev.itertuples():
        g = f"{a.experiment}:{r.variant}"
        out.append(
            KPI(
                "revenue_per_user",
                r.revenue_per_user,
                "Revenue per user",
                unit="money",
                low=r.rpu_low,
                high=r.rpu_high,
                group=g,
                n=int(r.users),
                currency=cur,
                topic="revenue",
                level=a.level,
                tolerance=_tol(r.rpu_low, r.rpu_high),
                higher_is_better=True,
            )
        )
        if not r.is_control:
            out += _variant_revenue_kpis(a, r, g, rev.attrs.get("n_draws", 4000))
    return out


def kpis(a: Any) -> list[KPI]:
    """Every figure the report records, under stable names (see the module docstring)."""
    by_revenue = a.metric == "revenue"
    out = [
        KPI(
            "verdict",
            a.decided.verdict,
            f"A/B verdict, {a.experiment} ({a.metric_label})",
            unit="text",
            topic="decision",
            headline=True,
        ),
        KPI(
            "srm_p_value",
            a.srm.p_value,
            "Sample-ratio-mismatch p-value",
            unit="number",
            higher_is_better=True,
            topic="trust",
            headline=True,
        ),
    ]
    out += _conversion_kpis(a, lead=not by_revenue)
    if a.revenue is not None:
        out += _revenue_kpis(a, lead=by_revenue)
    if a.plan is not None:
        s = a.plan.summary
        out += [
            KPI(
                "plan_power",
                s["power"],
                "Planned power",
                unit="share",
                group=a.experiment,
                higher_is_better=True,
                topic="planning",
                tolerance=4 * s["power_se"] + 1e-9,
            ),
            KPI(
                "plan_false_positive_rate",
                s["false_positive_rate"],
                "Planned false-positive rate",
                unit="share",
                group=a.experiment,
                higher_is_better=False,
                topic="planning",
                tolerance=4 * s["false_positive_rate_se"] + 1e-9,
            ),
        ]
    return out
