"""Customers per lifecycle stage (portable group-bys; an 11-row pandas result)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features._frame import back, frame, to_pandas
from cjlab.features.touchpoints import furthest_stage


def stage_funnel(touchpoints: Any, steps: Sequence[str] | None = None) -> pd.DataFrame:
    """Customers per lifecycle stage: how many touched it, reached it, and stopped there.

    ``reached`` counts customers whose furthest stage is this stage or a later one (the
    usual reading of a lifecycle funnel), ``stopped`` those whose furthest stage it is, and
    ``touched`` those with at least one touchpoint at the stage. The heavy part (two
    group-bys over the touchpoints) runs in the backend; the result has one row per stage
    and is always returned as pandas.

    Returns
    -------
    DataFrame with stage, stage_index, touched, stopped, reached, step_conversion
    (reached / reached at the previous stage) and overall_conversion (reached / customers).
    """
    steps = list(steps or STAGES)
    f = frame(touchpoints)
    pairs = f.filter(nw.col("stage").is_in(steps)).group_by("stage", "customer_id").agg(nw.len().alias("_n"))
    touched = to_pandas(back(pairs.group_by("stage").agg(nw.len().alias("touched")), touchpoints))
    furthest = frame(furthest_stage(f))
    stopped = to_pandas(back(furthest.group_by("stage_index").agg(nw.len().alias("stopped")), touchpoints))
    by_index = dict(zip(stopped["stage_index"].astype(int), stopped["stopped"].astype(int)))
    unknown = [s for s in steps if s not in STAGES]
    if unknown:
        raise ValueError(f"stage_funnel: steps {unknown} are not lifecycle stages ({', '.join(STAGES)})")
    idx = [STAGES.index(s) for s in steps]
    out = pd.DataFrame({"stage": steps, "stage_index": idx})
    out = out.merge(touched, on="stage", how="left")
    out["touched"] = out["touched"].fillna(0).astype("int64")
    out["stopped"] = [by_index.get(i, 0) for i in idx]
    out["reached"] = [sum(n for j, n in by_index.items() if j >= i) for i in idx]
    total = sum(by_index.values())
    out["step_conversion"] = out["reached"] / out["reached"].shift(1)
    out.loc[0, "step_conversion"] = 1.0
    out["overall_conversion"] = out["reached"] / total if total else float("nan")
    return out
