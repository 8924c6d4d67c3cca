"""Uplift per segment with partial pooling: a hierarchical PyMC model.

Each segment's log-odds uplift is drawn from a common distribution, so small segments borrow
strength from the others and are not over-interpreted.

Examples
--------
>>> from cjlab.ab.segment_model import SegmentUpliftModel
>>> SegmentUpliftModel(model_config={"tau_scale": 0.2}).model_config["tau_scale"]
0.2
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import special

from cjlab.ab._pymc import PyMCModel, mcse
from cjlab.ab.conversions import ABInputError, pick_control


class SegmentUpliftModel(PyMCModel):
    """Hierarchical (partially pooled) uplift per segment for one variant against the control.

    ``logit p_{s,control} = a_s``, ``logit p_{s,variant} = a_s + d_s``,
    ``d_s = d_0 + tau z_s`` with ``z_s ~ N(0, 1)`` (non-centred), ``d_0 ~ N(0, 0.5)``,
    ``tau ~ HalfNormal(tau_scale)``, ``a_s ~ N(logit(overall rate), 1.5)``.

    Parameters
    ----------
    model_config : priors: ``tau_scale`` (0.3, between-segment spread of log-odds uplifts),
        ``d0_sigma`` (0.5, the typical uplift), ``a_sigma`` (1.5, segment baselines).
    sampler_config : ``pymc.sample`` settings (``target_accept`` 0.9 by default).
    level : credible-interval mass.
    random_state : seed of the sampler.

    Attributes
    ----------
    summary_ : per segment (plus a ``(pooled)`` row for the typical segment): users and
        conversions per arm, observed rates, relative uplift (posterior median and interval),
        chance_to_beat_control (with MC standard error).
    idata_ : InferenceData.
    """

    default_model_config: ClassVar[dict[str, float]] = {
        "tau_scale": 0.3,
        "d0_sigma": 0.5,
        "a_sigma": 1.5,
    }

    @property
    def default_sampler_config(self) -> dict:
        return {**super().default_sampler_config, "target_accept": 0.9}

    def fit(
        self,
        df: pd.DataFrame,
        variant_name: str,
        control: str | None = None,
        segment: str = "segment",
    ) -> SegmentUpliftModel:
        """Fit on counts per segment and variant: columns ``segment``, variant, users,
        conversions (:func:`cjlab.features.experiments.experiment_counts` with ``by=[segment]``)."""
        import pymc as pm

        missing = [c for c in (segment, "variant", "users", "conversions") if c not in df.columns]
        if missing:
            raise ABInputError(
                f"missing column(s) {missing}; need {segment}, variant, users, "
                f"conversions; have {list(df.columns)}"
            )
        agg = df.groupby([segment, "variant"])[["users", "conversions"]].sum().reset_index()
        agg["variant"] = agg["variant"].astype(str)
        variants = list(dict.fromkeys(agg["variant"]))
        ctrl = pick_control(variants, control)
        if variant_name not in variants or variant_name == ctrl:
            raise ABInputError(
                f"variant {variant_name!r} must be a non-control variant; have {variants}"
            )
        agg = agg[agg["variant"].isin([ctrl, variant_name])]
        wide = agg.pivot(index=segment, columns="variant", values=["users", "conversions"]).fillna(
            0
        )
        segs = [str(s) for s in wide.index]
        if len(segs) < 2:
            raise ABInputError(f"need at least two segments, got {segs}")
        n_c, n_v = wide["users"][ctrl].to_numpy(int), wide["users"][variant_name].to_numpy(int)
        k_c, k_v = (
            wide["conversions"][ctrl].to_numpy(int),
            wide["conversions"][variant_name].to_numpy(int),
        )
        overall = (k_c.sum() + k_v.sum() + 1) / (n_c.sum() + n_v.sum() + 2)
        cfg = self.model_config
        with pm.Model(coords={"segment": segs}) as model:
            a = pm.Normal("a", float(special.logit(overall)), cfg["a_sigma"], dims="segment")
            d0 = pm.Normal("d0", 0.0, cfg["d0_sigma"])
            tau = pm.HalfNormal("tau", cfg["tau_scale"])
            z = pm.Normal("z", 0.0, 1.0, dims="segment")
            d = pm.Deterministic("d", d0 + tau * z, dims="segment")
            p_c = pm.Deterministic("p_control", pm.math.invlogit(a), dims="segment")
            p_v = pm.Deterministic("p_variant", pm.math.invlogit(a + d), dims="segment")
            pm.Binomial("y_c", n=n_c, p=p_c, observed=k_c, dims="segment")
            pm.Binomial("y_v", n=n_v, p=p_v, observed=k_v, dims="segment")
            self.idata_ = self._sample()
        self.model_ = model
        self.summary_ = self._summary(segs, n_c, n_v, k_c, k_v)
        self.summary_.attrs.update(
            control=ctrl, variant=variant_name, segment=segment, level=self.level
        )
        self.variant_, self.control_ = variant_name, ctrl
        return self

    def _summary(
        self, segs: list[str], n_c: np.ndarray, n_v: np.ndarray, k_c: np.ndarray, k_v: np.ndarray
    ) -> pd.DataFrame:
        post = self.idata_.posterior
        pc = post["p_control"].stack(s=("chain", "draw")).transpose("segment", "s").to_numpy()
        pv = post["p_variant"].stack(s=("chain", "draw")).transpose("segment", "s").to_numpy()
        lo_q, hi_q = (1 - self.level) / 2, 1 - (1 - self.level) / 2
        rows = []
        for i, s in enumerate(segs):
            lift = pv[i] / pc[i] - 1
            win = (lift > 0).astype(float)
            rows.append(
                {
                    "segment": s,
                    "users_control": n_c[i],
                    "users_variant": n_v[i],
                    "rate_control": k_c[i] / max(n_c[i], 1),
                    "rate_variant": k_v[i] / max(n_v[i], 1),
                    "uplift": float(np.median(lift)),
                    "uplift_low": float(np.quantile(lift, lo_q)),
                    "uplift_high": float(np.quantile(lift, hi_q)),
                    "chance_to_beat_control": win.mean(),
                    "chance_to_beat_control_mcse": mcse(win, self._chains),
                }
            )
        # typical segment: the pooled log-odds uplift at the average baseline
        d0s = post["d0"].stack(s=("chain", "draw")).to_numpy()
        a_bar = post["a"].mean("segment").stack(s=("chain", "draw")).to_numpy()
        lift0 = special.expit(a_bar + d0s) / special.expit(a_bar) - 1
        win0 = (d0s > 0).astype(float)
        rows.append(
            {
                "segment": "(pooled)",
                "users_control": int(n_c.sum()),
                "users_variant": int(n_v.sum()),
                "rate_control": k_c.sum() / max(n_c.sum(), 1),
                "rate_variant": k_v.sum() / max(n_v.sum(), 1),
                "uplift": float(np.median(lift0)),
                "uplift_low": float(np.quantile(lift0, lo_q)),
                "uplift_high": float(np.quantile(lift0, hi_q)),
                "chance_to_beat_control": win0.mean(),
                "chance_to_beat_control_mcse": mcse(win0, self._chains),
            }
        )
        return pd.DataFrame(rows)
