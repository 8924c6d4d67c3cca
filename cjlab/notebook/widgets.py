"""Every widget of cjlab, for exploring in JupyterLab.

Widgets need a live kernel (offline HTML reports cannot render them), so notebooks build them
through :func:`cjlab.notebook.interactive` (never in batch runs) and every report shows the
static equivalent beside them. Like the rest of :mod:`cjlab.notebook`, this module sits on top
of the analyses: it may import them; they never import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from cjlab.notebook import display as rd

if TYPE_CHECKING:
    from cjlab.campaigns import CampaignAnalysis
    from cjlab.journey import JourneyAnalysis
    from cjlab.segments import SegmentAnalysis


# -- A/B tests ----------------------------------------------------------------------------------
def decision_panel(counts: pd.DataFrame, control: str | None = None, rope: float = 0.01,
                   loss_threshold: float = 0.001, prior_weight: float = 0.0):
    """An ipywidgets panel: sliders for ROPE, loss threshold and the weight of a prior centred
    on the control's observed rate; shows the verdict and the decision table.

    Returns
    -------
    ipywidgets.VBox (display it in JupyterLab).
    """
    import ipywidgets as w

    from cjlab import formatting as fmt
    from cjlab.ab.conversions import BetaPrior, compare_conversions
    from cjlab.ab.decision import decide

    rope_s = w.FloatLogSlider(value=max(rope, 1e-4), base=10, min=-4, max=-0.5, step=0.1,
                              description="ROPE ±", readout_format=".2%")
    loss_s = w.FloatLogSlider(value=loss_threshold, base=10, min=-5, max=-1, step=0.1,
                              description="loss thr.", readout_format=".3%")
    prior_s = w.IntSlider(value=int(prior_weight), min=0, max=20_000, step=500,
                          description="prior users")
    out = w.HTML()
    counts = counts[["variant", "users", "conversions"]]
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
        table = dec.table.assign(**{c: dec.table[c].map(fmt.share) for c in (
            "chance_to_beat_control", "chance_to_be_best", "uplift", "uplift_low", "uplift_high",
            "expected_loss_relative")})
        out.value = (f"<p><b>Verdict: {rd.esc(dec.verdict)}</b> — {rd.esc(dec.reason)}</p>"
                     + rd.table_html(table.rename(columns={
                         "expected_loss_relative": "expected loss (share of control rate)"})))

    for s in (rope_s, loss_s, prior_s):
        s.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([rope_s, loss_s, prior_s]), out])


# -- churn ------------------------------------------------------------------------------------------
def contact_share_widget(curve: pd.DataFrame, best: pd.Series | None = None,
                         start: float | None = None, currency: str = ""):
    """An ipywidgets slider over the contact share that redraws the profit curve and states the
    campaign at that share (JupyterLab). Reports show the static figure instead.

    The figure is rendered to PNG bytes into an ``Image`` widget (no ``Output`` capture), so
    executing the notebook headless cannot block on widget output. Amounts are in
    ``currency`` (``""``: plain amounts).

    Returns the widget box; display it (last expression of a cell).
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from cjlab import formatting
    from cjlab.churn import plots as churn_plots

    s0 = float(best["contact_share"]) if start is None and best is not None else float(start or 0.1)
    slider = widgets.FloatSlider(value=s0, min=0.0, max=1.0, step=0.01, description="contact share",
                                 readout_format=".0%", continuous_update=False,
                                 style={"description_width": "initial"}, layout={"width": "480px"})
    text = widgets.HTML()
    image = widgets.Image(format="png", layout={"width": "720px"})

    def redraw(change=None):
        i = (curve["contact_share"] - slider.value).abs().idxmin()
        row = curve.loc[i]
        fig, ax = plt.subplots(figsize=(8, 4))
        churn_plots.plot_profit_curve(curve, best, ax=ax, mark_share=float(row["contact_share"]),
                                      currency=currency)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        image.value = buf.getvalue()
        money = lambda v: rd.esc(formatting.money(v, currency))  # noqa: E731
        text.value = (f"Contact <b>{formatting.count(row['customers'])}</b> customers "
                      f"({formatting.share(row['contact_share'], digits=0)}): value saved "
                      f"{money(row['saved_value'])}, offer cost {money(row['cost'])}, "
                      f"expected profit <b>{money(row['profit'])}</b>")

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, text, image])


# -- segments ---------------------------------------------------------------------------------------
def segment_widget(analysis: SegmentAnalysis):
    """A dropdown over the RFM segments showing who is in one: their status mix and, when
    behavioural segments were found, which of those they belong to (JupyterLab; reports show
    the static tables instead). Returns the widget box."""

    def mix(labels: pd.Series, members: pd.Index, what: str) -> pd.DataFrame:
        share = labels.reindex(members).value_counts(normalize=True).head(6)
        return pd.DataFrame({what: share.index, "Share": share.to_numpy()})

    def draw(segment: str) -> None:
        members = pd.Index(analysis.rfm.loc[analysis.rfm["segment"] == segment, "customer_id"])
        status = analysis.status.set_index("customer_id")["status"]
        rd.table(mix(status, members, "Status"), formats={"Share": "share"}, caption=f"{segment}: status")
        if analysis.behaviour is not None:
            rd.table(mix(analysis.behaviour.segments_, members, "Behavioural segment"),
                     formats={"Share": "share"}, caption=f"{segment}: behavioural segments")

    return rd.dropdown_view(list(analysis.rfm_summary["segment"]), "RFM segment", draw)


# -- journeys ---------------------------------------------------------------------------------------
def breakdown_widget(analysis: JourneyAnalysis, options: Sequence[str] | None = None):
    """A dropdown to redraw the funnel by another breakdown (JupyterLab; reports show the static
    breakdown figure instead). The breakdowns are regrouped from the analysis' per-customer
    funnel (first-touch device, channel, campaign and the chosen breakdown): no data are read.
    Returns the widget box."""
    import matplotlib.pyplot as plt

    from cjlab.journey import funnel_by, plots

    def draw(breakdown: str) -> None:
        plots.breakdown(funnel_by(analysis.funnel, breakdown))
        plt.show()

    known = analysis.funnel.breakdowns
    return rd.dropdown_view([o for o in (options or known) if o in known], "breakdown", draw)


# -- campaigns --------------------------------------------------------------------------------------
def _png(fig) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def campaign_targeting_widget(analysis: CampaignAnalysis):
    """Sliders for the margin (share of a conversion's revenue that is profit) and the cost of
    one contact that redraw the targeting policies' profit curves on the hold-out (JupyterLab;
    reports show the static figure). Returns the widget box."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from cjlab import formatting
    from cjlab.campaigns import compare_policies
    from cjlab.campaigns import plots as camp_plots

    a = analysis
    revenue = a.value_per_conversion / a.margin if a.margin > 0 else a.value_per_conversion
    style = {"description_width": "initial"}
    margin = widgets.FloatSlider(value=a.margin if a.margin > 0 else 1.0, min=0.0, max=1.0, step=0.01,
                                 description="margin", readout_format=".0%", continuous_update=False,
                                 style=style, layout={"width": "480px"})
    cost = widgets.FloatSlider(value=a.contact_cost, min=0.0, max=max(4 * a.contact_cost, 1.0), step=0.05,
                               description="cost per contact", continuous_update=False, style=style,
                               layout={"width": "480px"})
    text, image = widgets.HTML(), widgets.Image(format="png", layout={"width": "760px"})

    def redraw(change=None):
        value = margin.value * revenue
        pol, curves = compare_policies(a.uplift.scores, value, cost.value, n_boot=50, level=a.level)
        shown = replace(a, policies=pol, profit_curves=curves)
        fig, ax = plt.subplots(figsize=(8, 4))
        camp_plots.profit_curves(shown, ax=ax)
        image.value = _png(fig)
        p = pol.set_index("policy").loc["profit"]
        text.value = (f"Profit of one extra conversion {rd.esc(formatting.money(value, a.currency))}: "
                      f"contact <b>{formatting.share(p['share_contacted'])}</b> of customers, "
                      f"{rd.esc(formatting.money(p['profit_per_1000'], a.currency))} per 1,000 customers, "
                      f"{rd.esc(formatting.money(p['gain_vs_everyone_per_1000'], a.currency, sign=True))} "
                      "against contacting everyone")

    for s in (margin, cost):
        s.observe(redraw, names="value")
    redraw()
    return widgets.VBox([margin, cost, text, image])


def offers_k_widget(analysis: CampaignAnalysis):
    """A slider over the number of offers per customer that shows each method's hit rate,
    recall and MAP at that length (JupyterLab). Returns the widget box."""
    import ipywidgets as widgets

    from cjlab.campaigns import tables as camp_tables

    ks = sorted(int(k) for k in analysis.offers["k"].unique())
    slider = widgets.SelectionSlider(options=ks, value=analysis.k if analysis.k in ks else ks[-1],
                                     description="offers per customer", continuous_update=False,
                                     style={"description_width": "initial"})
    out = widgets.HTML()

    def redraw(change=None):
        shown = replace(analysis, k=int(slider.value))
        out.value = rd.table_html(*camp_tables.offers(shown))

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, out])
