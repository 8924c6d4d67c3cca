"""Tables (and a few sentences) for readers of the survey report, made from a :class:`~cjlab.survey.SurveyAnalysis`.

Each function returns a small DataFrame whose headers are words (with units) and whose cells
are formatted text (:mod:`cjlab.formatting`): values with their intervals in one cell, shares
as percentages, changes of shares in percentage points, NPS in points. Suppressed cells read
"not shown". Pure: no display, no I/O (the notebook shows them with ``cjlab.notebook.table``).

Examples
--------
>>> from cjlab.data import open_source
>>> from cjlab.survey import analyse
>>> a = analyse(open_source("demo:n_customers=3000,seed=11").load("survey_responses"), n_boot=0)
>>> list(scorecard(a).columns)
['Wave', 'Score', 'Estimate (interval)', 'Respondents', 'Effective n']
"""

from __future__ import annotations

import pandas as pd

from cjlab import formatting as fmt

from .analysis import SurveyAnalysis
from .scores import METRICS

NOT_SHOWN = "not shown (too few respondents)"


def _estimate(value, low, high, unit: str | None) -> str:
    if fmt.number(value) == fmt.MISSING:
        return NOT_SHOWN
    return fmt.interval(value, low, high, unit)


def responses(a: SurveyAnalysis) -> pd.DataFrame:
    """Answers per wave (and respondent type, when the survey has it), with a total column."""
    c = a.cells
    if "respondent_type" in c:
        wide = c.pivot_table(
            index="wave",
            columns="respondent_type",
            values="responses",
            aggfunc="sum",
            fill_value=0,
            dropna=False,
        )
        wide.columns = [str(x) for x in wide.columns]
        wide["All answers"] = wide.sum(axis=1)
    else:
        wide = c.set_index("wave")[["responses"]].rename(columns={"responses": "All answers"})
    out = wide.map(fmt.count).reset_index().rename(columns={"wave": "Wave"})
    return out


def scorecard(a: SurveyAnalysis) -> pd.DataFrame:
    """Scores per wave: estimate with interval, respondents and effective sample size."""
    t = a.trend
    return pd.DataFrame(
        {
            "Wave": t["wave"].astype(str),
            "Score": t["label"],
            "Estimate (interval)": [
                _estimate(r.value, r.low, r.high, r.unit) for r in t.itertuples()
            ],
            "Respondents": t["n"].map(fmt.count),
            "Effective n": t["n_effective"].map(fmt.count),
        }
    )


def changes(a: SurveyAnalysis) -> pd.DataFrame:
    """Each score in the two compared waves, the change (percentage points for shares) and
    whether it is larger than sampling noise."""
    rows = []
    for m, c in a.changes.items():
        unit = METRICS[m][3]
        if fmt.number(c.diff) == fmt.MISSING:
            change, reading = NOT_SHOWN, "too few respondents to compare"
        else:
            change = fmt.interval(c.diff, c.low, c.high, c.unit)
            reading = "larger than sampling noise" if c.distinguishable else "within sampling noise"
        rows.append(
            {
                "Score": METRICS[m][4],
                str(c.wave_a): fmt.number(c.a.value, unit),
                str(c.wave_b): fmt.number(c.b.value, unit),
                "Change (interval)": change,
                "Reading": reading,
            }
        )
    return pd.DataFrame(rows)


def weighting(a: SurveyAnalysis) -> pd.DataFrame:
    """How the weighting went, one measure a row (method, convergence, effective sample ...)."""
    r = a.weighting.result_
    s = r.summary()
    rows = [
        ("Method", s["method"]),
        ("Weighting columns", ", ".join(c.replace("_", " ") for c in a.weighting.margins_)),
        ("Margins met", "yes" if s["converged"] else "no (see the note below)"),
        ("Answers weighted", fmt.count(s["n"])),
        ("Effective sample size", fmt.count(s["n_effective"])),
        ("Design effect (1 = no loss of precision)", fmt.plain(s["design_effect"], 2)),
        (
            "Smallest and largest weight",
            f"{fmt.plain(s['weight_min'], 2)} to {fmt.plain(s['weight_max'], 2)}",
        ),
        ("Weights at a trimming bound", fmt.count(s["n_trimmed"])),
        ("Largest gap to a target share", fmt.pp(s["max_margin_error"], 2)),
    ]
    return pd.DataFrame(rows, columns=["Measure", "Value"])


def margins(a: SurveyAnalysis) -> pd.DataFrame:
    """Each weighting margin: customer-base share, survey share before and after weighting."""
    m = a.weighting.result_.margins
    return pd.DataFrame(
        {
            "Characteristic": m["variable"].str.replace("_", " "),
            "Category": m["category"].astype(str),
            "Customer base": m["target"].map(fmt.share),
            "Survey, unweighted": m["unweighted"].map(fmt.share),
            "Survey, weighted": m["weighted"].map(fmt.share),
            "Respondents": m["n"].map(fmt.count),
        }
    )


def drivers(a: SurveyAnalysis) -> pd.DataFrame:
    """Drivers of recommendation with their quadrant (fix first, keep up ...)."""
    q = a.quadrants
    return pd.DataFrame(
        {
            "Touchpoint": q["touchpoint"].str.replace("_", " "),
            "Stage": q["stage"],
            "Importance (interval)": [
                fmt.interval(r.share, r.low, r.high, "share") for r in q.itertuples()
            ],
            "Mean rating (1–5)": q["performance"].map(lambda v: fmt.number(v, "score")),
            "Ratings": q["n"].map(fmt.count),
            "Quadrant": q["quadrant"],
        }
    )


def driver_model(a: SurveyAnalysis) -> pd.DataFrame:
    """The driver model for analysts: raw importance (part of R²), standardised coefficient and
    how often the bootstrap gives the same rank."""
    d = a.drivers.importance_
    return pd.DataFrame(
        {
            "Rank": d["rank"],
            "Rating": d["driver"].str.removeprefix("rating_").str.replace("_", " "),
            "Part of R²": d["importance"].map(fmt.plain),
            "Share of R² (interval)": [
                fmt.interval(r.share, r.low, r.high, "share") for r in d.itertuples()
            ],
            "Standardised coefficient": d["beta"].map(fmt.plain),
            "Same rank in resamples": d["rank_stability"].map(fmt.share),
        }
    )


def drivers_note(a: SurveyAnalysis) -> str:
    """One sentence on how much of likelihood to recommend the ratings explain (R²)."""
    kd = a.drivers
    span = (
        f" ({fmt.share(a.level, 0)} interval {fmt.plain(kd.r2_low_)} to {fmt.plain(kd.r2_high_)})"
        if fmt.number(kd.r2_low_) != fmt.MISSING
        else ""
    )
    return (
        f"The ratings explain R² = {fmt.plain(kd.r2_)}{span} of the variation in likelihood to "
        f"recommend, from {fmt.count(kd.n_)} respondents (Johnson's relative weights, "
        "pairwise-complete correlations)."
    )


def touchpoints(a: SurveyAnalysis) -> pd.DataFrame:
    """Per-touchpoint mean rating and the NPS of its raters, in lifecycle order."""
    t = a.touchpoints
    cols = {
        "Stage": t["stage"],
        "Touchpoint": t["touchpoint"].str.replace("_", " "),
        "Mean rating (interval)": [
            _estimate(r.mean_rating, r.rating_low, r.rating_high, "score") for r in t.itertuples()
        ],
    }
    if t["nps"].notna().any():
        cols["NPS of raters (interval)"] = [
            _estimate(r.nps, r.nps_low, r.nps_high, "points") for r in t.itertuples()
        ]
    cols["Ratings"] = t["n"].map(fmt.count)
    return pd.DataFrame(cols)


def themes(a: SurveyAnalysis, pain_points: bool = True) -> pd.DataFrame:
    """Comment themes: the pain points (``pain_points=True``) or the other themes."""
    th = a.themes.themes_
    if "pain_point" in th:
        th = th[th["pain_point"] == pain_points]
    elif pain_points:
        th = th.iloc[:0]
    cols = {
        "Theme": th["label"],
        "Typical words": th["top_terms"],
        "Share of comments": th["share"].map(fmt.share),
    }
    if "nps" in th:
        cols["NPS of commenters"] = th["nps"].map(lambda v: fmt.points(v, 0))
    if pain_points and "priority" in th:
        cols["Gap to all commenters"] = th["nps_gap"].map(lambda v: fmt.points(v, 0))
        cols["Priority: NPS points at stake (share × gap)"] = th["priority"].map(fmt.points)
    cols["Examples"] = th["examples"]
    return pd.DataFrame(cols).reset_index(drop=True)


def alpha_note(a: SurveyAnalysis) -> str:
    """One sentence on the reliability of the experience scale (Cronbach's alpha)."""
    r = a.alpha
    items = ", ".join(c.removeprefix("rating_").replace("_", " ") for c in a.scale_items)
    verdict = "consistent" if r.alpha >= 0.7 else "not consistent enough to add up into one score"
    return (
        f"Cronbach's alpha of the ratings of {items}: {fmt.plain(r.alpha)} "
        f"({fmt.share(r.level, 0)} interval {fmt.plain(r.low)} to {fmt.plain(r.high)}, "
        f"{fmt.count(r.n)} complete answers): {verdict}."
    )


__all__ = [
    "alpha_note",
    "changes",
    "driver_model",
    "drivers",
    "drivers_note",
    "margins",
    "responses",
    "scorecard",
    "themes",
    "touchpoints",
    "weighting",
]
