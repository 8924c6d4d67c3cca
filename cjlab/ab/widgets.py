"""Interactive JupyterLab panel: move the prior and thresholds, watch the verdict change.

Widgets need a live kernel (offline HTML reports cannot render them), so every report also
shows the static equivalents: :func:`cjlab.ab.conversions.prior_sensitivity` and
:func:`cjlab.ab.decision.verdict_grid`.
"""

from __future__ import annotations

import pandas as pd

from cjlab.ab.conversions import BetaPrior, compare_conversions
from cjlab.ab.decision import decide


def decision_panel(counts: pd.DataFrame, control: str | None = None, rope: float = 0.01,
                   loss_threshold: float = 0.001, prior_weight: float = 0.0):
    """An ipywidgets panel: sliders for ROPE, loss threshold and the weight of a prior centred
    on the control's observed rate; shows the verdict and the decision table.

    Returns
    -------
    ipywidgets.VBox (display it in JupyterLab).
    """
    import ipywidgets as w

    from cjlab.report import display as rd

    rope_s = w.FloatLogSlider(value=max(rope, 1e-4), base=10, min=-4, max=-0.5, step=0.1,
                              description="ROPE ±", readout_format=".2%")
    loss_s = w.FloatLogSlider(value=loss_threshold, base=10, min=-5, max=-1, step=0.1,
                              description="loss thr.", readout_format=".3%")
    prior_s = w.IntSlider(value=int(prior_weight), min=0, max=20_000, step=500,
                          description="prior users")
    out = w.HTML()
    base = compare_conversions(counts, control=control)
    ctrl = base.attrs["control"]
    crow = base.set_index("variant").loc[ctrl]

    def refresh(*_):
        if prior_s.value > 0:
            prior = BetaPrior.from_history(crow.conversions, max(crow.users, 1), prior_s.value)
        else:
            prior = BetaPrior.uniform()
        res = compare_conversions(counts, control=ctrl, prior=prior)
        dec = decide(res, rope=rope_s.value, loss_threshold=loss_s.value)
        out.value = (f"<p><b>Verdict: {rd.esc(dec.verdict)}</b> — {rd.esc(dec.reason)}</p>"
                     + rd.table_html(dec.table, formats={
                         "chance_to_beat_control": "share", "uplift": "share", "uplift_low": "share",
                         "uplift_high": "share", "risk_if_shipped": "{:.4%}", "risk_if_kept": "{:.4%}",
                         "chance_to_be_best": "share"}))

    for s in (rope_s, loss_s, prior_s):
        s.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([rope_s, loss_s, prior_s]), out])
