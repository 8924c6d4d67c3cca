"""Flows between consecutive steps of the customers' journeys (the bands of a flow diagram).

The bands are counted where the data live (:func:`cjlab.features.sequences.step_flows`); this
module labels the nodes for the figure (:func:`cjlab.journey.plots.flows`).

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"customer_id": [1, 1, 2], "stage": ["awareness", "information", "awareness"],
...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
>>> stage_flows(tp).values.tolist()
[['1. awareness', '2. information', 1], ['1. awareness', 'no further stage', 1], ['2. information', 'no further stage', 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from cjlab.features import to_pandas
from cjlab.features.sequences import customer_steps, stage_sequence, step_flows
from cjlab.journey.inputs import check_stages

__all__ = ["ENDS", "STAGE_ENDS", "stage_flows"]

#: end nodes of channel flows: (bought, did not buy)
ENDS = ("purchase", "no purchase")
#: end nodes of stage flows: (goes on to later stages, reached no further stage)
STAGE_ENDS = ("more stages", "no further stage")


def stage_flows(
    touchpoints: Any,
    orders: Any = None,
    *,
    by: str = "stage",
    max_steps: int = 5,
    top: int | None = 8,
    stages: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    exclude_touchpoints: Sequence[str] = (),
    as_of: datetime | str | None = None,
    on_unknown: str = "raise",
) -> pd.DataFrame:
    """Flows between consecutive steps of each customer's journey, for a flow diagram.

    ``by="stage"``: each customer's stages in the order first reached (from all touches), the
    first ``max_steps`` of them, then an end node ``"more stages"`` (the customer reached more
    stages later) or ``"no further stage"`` (where they stopped). ``by="channel"`` (or another touch column): the touches before
    the first purchase with consecutive repeats merged, the first ``max_steps`` steps, then an
    end node ``"purchase"`` or ``"no purchase"``; values outside the ``top`` most frequent are
    pooled as ``"other"``.

    Returns
    -------
    DataFrame source, target, value (customers), largest first; nodes are labelled
    ``"<position>. <value>"`` (end nodes by their name alone).
    """
    tp, _ = check_stages(touchpoints, on_unknown=on_unknown)
    if by == "stage":
        steps = stage_sequence(tp, stages=stages, as_of=as_of, beyond=max_steps)
        f = step_flows(steps, max_steps=max_steps, ends=STAGE_ENDS)
    else:
        steps = customer_steps(
            tp,
            orders,
            by=by,
            channels=channels,
            stages=stages,
            as_of=as_of,
            exclude_touchpoints=exclude_touchpoints,
            collapse_repeats=True,
        )
        f = step_flows(steps, max_steps=max_steps, top=top, ends=ENDS)
    f = to_pandas(f)
    if f.empty:
        return pd.DataFrame(columns=["source", "target", "value"])
    pos = f["position"].astype(int)
    out = pd.DataFrame(
        {
            "source": [f"{p}. {s}" for p, s in zip(pos, f["source"])],
            "target": [
                t if e else f"{p + 1}. {t}"
                for p, t, e in zip(pos, f["target"], f["end"].astype(int))
            ],
            "value": f["customers"].astype("int64"),
        }
    )
    return out.sort_values(
        ["value", "source", "target"], ascending=[False, True, True]
    ).reset_index(drop=True)
