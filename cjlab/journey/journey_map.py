"""The journey map: stages x touchpoints with volume, conversion, ratings, NPS, pain points, actions.

Volumes and conversion to the next stage are counted where the data live
(:func:`cjlab.features.funnels.touchpoint_progress`); ratings, NPS and pain points come from the
survey answers (scored by :mod:`cjlab.survey` when it is available); actions, owners and due
dates from the analysts' action table (:func:`cjlab.journey.inputs.action_table`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features import to_pandas
from cjlab.features.funnels import touchpoint_progress
from cjlab.journey.inputs import ACTION_COLUMNS, check_stages

__all__ = ["MAP_COLUMNS", "journey_map", "rating_columns", "stage_emotion"]

MAP_COLUMNS = [
    "stage",
    "touchpoint",
    "customers",
    "touches",
    "conversion_next",
    "rating",
    "rating_n",
    "nps",
    "pain_point",
    "action",
    "owner",
    "due",
]


def rating_columns(survey: pd.DataFrame | None) -> list[str]:
    """The ``rating_<touchpoint>`` columns of the survey answers that hold a value."""
    if survey is None or not len(survey):
        return []
    return [c for c in survey.columns if str(c).startswith("rating_") and survey[c].notna().any()]


def _scores(survey: pd.DataFrame, cols: list[str]) -> tuple[dict[str, tuple[float, float]], Any]:
    """Mean rating and NPS of its raters per rating column; and the survey's stage_of (or None)."""
    try:  # the survey module's scores (intervals, small-n suppression) when available
        from cjlab.survey import stage_of, touchpoint_scores

        ts = touchpoint_scores(survey, cols) if "nps" in survey.columns else None
        if ts is not None:
            ts = ts.set_index("column")
            return {
                c: (float(ts.loc[c, "mean_rating"]), float(ts.loc[c, "nps"])) for c in cols
            }, stage_of
    except (
        ImportError,
        KeyError,
        ValueError,
    ):  # pragma: no cover - survey module absent or changed
        stage_of = None
    out = {}
    for c in cols:
        r = survey[c].dropna().astype(float)
        s = (
            survey.loc[survey[c].notna(), "nps"].dropna().astype(float)
            if "nps" in survey.columns
            else pd.Series()
        )
        nps_v = 100 * ((s >= 9).mean() - (s <= 6).mean()) if len(s) else np.nan
        out[c] = (r.mean() if len(r) else np.nan, nps_v)
    return out, stage_of


def _rating_rows(survey: pd.DataFrame, touch_keys: pd.DataFrame) -> pd.DataFrame:
    """Mean rating and NPS per rating_<touchpoint> column, matched to (stage, touchpoint) rows."""
    cols = rating_columns(survey)
    scores, stage_of = _scores(survey, cols)
    rows = []
    for c in cols:
        name = c[len("rating_") :]
        match = touch_keys[
            (touch_keys["touchpoint"] == name) | touch_keys["touchpoint"].str.startswith(name + "_")
        ]
        mean, nps_v = scores[c]
        n = int(survey[c].notna().sum())
        home = stage_of(c) if stage_of is not None else None
        if len(match):
            # one row per rating: the survey's stage for it when it has that touchpoint,
            # otherwise the matching touchpoint with the most customers
            at_home = match[match["stage"] == home]
            pick = at_home if len(at_home) else match
            st, tp = pick.sort_values("customers", ascending=False)[["stage", "touchpoint"]].iloc[0]
            rows.append(
                {"stage": st, "touchpoint": tp, "rating": mean, "rating_n": n, "nps": nps_v}
            )
        elif home in STAGES:
            rows.append(
                {"stage": home, "touchpoint": name, "rating": mean, "rating_n": n, "nps": nps_v}
            )
    return pd.DataFrame(rows, columns=["stage", "touchpoint", "rating", "rating_n", "nps"])


def _pain_points(survey: pd.DataFrame, n_themes: int = 6, min_lift: float = 1.2) -> dict[str, str]:
    """Per rating column, the pain-point comment theme most over-represented (lift >= ``min_lift``)
    among the respondents who rated it 1 or 2 (themes from :class:`cjlab.survey.CommentThemes`)."""
    try:
        from cjlab.survey import CommentThemes
    except ImportError:  # pragma: no cover
        return {}
    if "comment" not in survey.columns or survey["comment"].notna().sum() < 30:
        return {}
    com = survey["comment"].dropna()
    try:
        th = CommentThemes(n_themes=n_themes).fit(
            com, survey.loc[com.index, "nps"] if "nps" in survey.columns else None
        )
    except ValueError:
        return {}
    labels = th.themes_.set_index("theme")["label"] if "label" in th.themes_.columns else None
    assign = th.assignment_
    base = assign[assign >= 0].value_counts(normalize=True)
    pains = (
        set(th.themes_.loc[th.themes_["pain_point"].astype(bool), "theme"])
        if "pain_point" in th.themes_.columns
        else None
    )
    out = {}
    for c in rating_columns(survey):
        low = survey.index[(survey[c].astype(float) <= 2).fillna(False)]
        a = assign.reindex(low).dropna()
        a = a[a >= 0]
        if len(a) >= 5:
            # the theme most over-represented among this touchpoint's low raters
            lift = (a.value_counts(normalize=True) / base).dropna()
            if pains is not None:
                lift = lift[lift.index.isin(pains)]
            lift = lift[lift >= min_lift]
            if len(lift):
                top = lift.idxmax()
                out[c[len("rating_") :]] = (
                    str(labels.get(top, top)) if labels is not None else str(top)
                )
    return out


def _with_survey(out: pd.DataFrame, survey: pd.DataFrame, pain_points: bool) -> pd.DataFrame:
    rr = _rating_rows(survey, out[["stage", "touchpoint", "customers"]])
    out = out.merge(rr, on=["stage", "touchpoint"], how="outer")
    if pain_points:
        pp = _pain_points(survey)
        out["pain_point"] = [
            pp.get(str(t)) if pd.notna(r) else None
            for t, r in zip(out["touchpoint"], out["rating"])
        ]
        for (
            k,
            v,
        ) in pp.items():  # ratings matched to a longer touchpoint name (support -> support_ticket)
            hit = out["touchpoint"].astype(str).str.startswith(k + "_") & out["rating"].notna()
            out.loc[hit & out["pain_point"].isna(), "pain_point"] = v
    return out


def _with_actions(out: pd.DataFrame, actions: pd.DataFrame | None) -> pd.DataFrame:
    act = actions if actions is not None else pd.DataFrame(columns=ACTION_COLUMNS)
    specific = act[act["touchpoint"].notna() & (act["touchpoint"].astype(str) != "")]
    general = (
        act[~act.index.isin(specific.index)].drop(columns="touchpoint").drop_duplicates("stage")
    )
    out = out.merge(specific, on=["stage", "touchpoint"], how="left")
    out = out.merge(general, on="stage", how="left", suffixes=("", "_stage"))
    for c in ("action", "owner", "due"):
        if f"{c}_stage" in out.columns:
            out[c] = out[c].where(out[c].notna(), out.pop(f"{c}_stage"))
    return out


def journey_map(
    touchpoints: Any,
    survey: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    *,
    pain_points: bool = True,
    min_customers: int = 1,
    on_unknown: str = "raise",
    as_of: Any = None,
) -> pd.DataFrame:
    """The journey map table: stages x touchpoints with volume, conversion, ratings, NPS, actions.

    Parameters
    ----------
    touchpoints : the touchpoints (any backend :mod:`cjlab.features` takes).
    survey : survey answers with ``rating_<touchpoint>`` columns (and ``nps``, ``comment``), or None.
    actions : the action table (:func:`cjlab.journey.inputs.action_table`), or None.
    pain_points : look for the comment theme typical of each touchpoint's low raters.
    min_customers : touchpoints with fewer customers are left out.
    on_unknown : ``"raise"`` or ``"drop"`` for touches at unknown stages.
    as_of : analysis day: touches on that day or earlier count.

    Returns
    -------
    DataFrame stage, touchpoint, customers, touches, conversion_next (share of the customers
    who had this touchpoint at this stage and reached the next lifecycle stage afterwards; none
    for the last stage), rating (mean survey rating of the touchpoint, where asked), rating_n,
    nps (of the respondents who rated it), pain_point (top comment theme of low raters, when
    the survey module finds themes), action, owner, due (from the action table; a stage-wide
    action applies to every touchpoint of its stage unless a touchpoint-specific one exists).
    """
    tp, _ = check_stages(touchpoints, on_unknown=on_unknown)
    prog = to_pandas(touchpoint_progress(tp, as_of=as_of))
    last = prog["stage_index"] >= len(STAGES) - 1
    out = pd.DataFrame(
        {
            "stage": prog["stage"].astype(str),
            "touchpoint": prog["touchpoint"].astype(str),
            "customers": prog["customers"].astype("int64"),
            "conversion_next": (prog["reached_next"] / prog["customers"]).where(~last),
            "touches": prog["touches"].astype("int64"),
        }
    )
    out = out[out["customers"] >= min_customers]
    if survey is not None and len(survey) and rating_columns(survey):
        out = _with_survey(out, survey, pain_points)
    for c in ("rating", "rating_n", "nps", "pain_point"):
        if c not in out.columns:
            out[c] = np.nan if c != "pain_point" else None
    out = _with_actions(out, actions)
    out["_o"] = out["stage"].map({s: i for i, s in enumerate(STAGES)})
    out = out.sort_values(["_o", "customers"], ascending=[True, False], kind="stable").drop(
        columns="_o"
    )
    return out[MAP_COLUMNS].reset_index(drop=True)


def stage_emotion(jmap: pd.DataFrame) -> pd.DataFrame:
    """Per stage: customers (max over touchpoints), rating weighted by rating_n, NPS (emotion curve)."""
    rows = []
    for st in STAGES:
        g = jmap[jmap["stage"] == st]
        if g.empty:
            continue
        r = g.dropna(subset=["rating"])
        w = r["rating_n"].astype(float)
        rows.append(
            {
                "stage": st,
                "customers": g["customers"].max(),
                "rating": float((r["rating"] * w).sum() / w.sum()) if w.sum() else np.nan,
                "nps": float((r["nps"] * w).sum() / w.sum())
                if w.sum() and r["nps"].notna().all()
                else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["stage", "customers", "rating", "nps"])
