"""Counterfactual attribution with a fitted noisy-OR conversion model.

Each touch on channel ``c`` independently converts the journey with probability ``w_c`` and a
journey converts without any touch with probability ``b``:
``P(convert) = 1 - (1 - b) * prod_c (1 - w_c) ** n_c`` with ``n_c`` the number of touches on
``c``. ``b`` and ``w`` are fitted by maximum likelihood over the journeys (L-BFGS-B with the
analytic gradient). A channel's *contribution* is the expected number of conversions lost if its
touches were taken out of every journey (the rest of the journey kept):
``sum_i P_i - P_i(n_c = 0)``. Unlike the Markov removal effect (which ends a journey at the
removed channel), this separates a channel's effect per touch from how often it is used.

Examples
--------
>>> import pandas as pd
>>> paths = pd.DataFrame({"path": ["a", "b", "a > b"], "conversions": [30, 10, 40], "null": [70, 90, 60]})
>>> NoisyOrAttribution().fit(paths).result_["channel"].tolist()
['a', 'b']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlab.journey.attribution.base import Attribution

__all__ = ["NoisyOrAttribution", "noisy_or_attribution"]


class NoisyOrAttribution(Attribution):
    """Counterfactual attribution: conversions lost per channel under a fitted noisy-OR model.

    Parameters
    ----------
    **kwargs : ``n_boot``, ``level``, ``collapse_repeats``, ``on_empty``, ``random_state`` (see
        :class:`~cjlab.journey.attribution.base.Attribution`); the bootstrap refits the model on
        each resample.

    Attributes
    ----------
    result_ : channel, effect (``w_c``), contribution, share (of the summed contributions)
        [+ ``contribution_low``/``contribution_high``], largest contribution first.
    base_rate_ : ``b``, the conversion probability of a journey without touches.
    effects_ : Series channel -> ``w_c``.
    """

    interval_columns = ("contribution",)
    rank_by = "contribution"

    def _prepare(self, paths: pd.DataFrame) -> None:
        pos = {c: i for i, c in enumerate(self.channels_)}
        X = np.zeros((len(paths), len(self.channels_)))
        for i, st in enumerate(paths["steps"]):
            for c in st:
                X[i, pos[c]] += 1
        self._X = X

    def _params(self, c: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Maximum-likelihood (b, w_1 .. w_k)."""
        from scipy.optimize import minimize

        X = self._X
        A = np.column_stack([np.ones(len(X)), X])

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            lq = -np.logaddexp(0, theta)  # log(1 - sigmoid(theta)) = log q
            log_no = lq[0] + X @ lq[1:]
            p_no = np.exp(log_no)
            p_yes = np.clip(-np.expm1(log_no), 1e-300, None)
            val = -(c * np.log(p_yes) + n * log_no).sum()
            # d loglik / d log_no = n - c * p_no / p_yes;  d log_no / d theta_j = -sigmoid * count_j
            s = 1 / (1 + np.exp(-theta))
            dl = n - c * p_no / p_yes
            return val, (A * dl[:, None]).sum(axis=0) * s

        theta0 = np.full(X.shape[1] + 1, -3.0)
        res = minimize(nll, theta0, jac=True, method="L-BFGS-B", bounds=[(-15, 15)] * len(theta0))
        return 1 / (1 + np.exp(-res.x))

    def _estimate(self, conv: np.ndarray, null: np.ndarray) -> dict[str, np.ndarray]:
        par = self._params(conv, null)
        X = self._X
        lq = np.log1p(-par)
        log_no = lq[0] + X @ lq[1:]
        p = -np.expm1(log_no)
        w = conv + null
        contrib = np.array(
            [
                (w * (p + np.expm1(log_no - X[:, j] * lq[j + 1]))).sum()
                for j in range(len(self.channels_))
            ]
        )
        return {"effect": par[1:], "contribution": contrib, "share": contrib / contrib.sum()}

    def _fitted(self, conv: np.ndarray, null: np.ndarray) -> None:
        par = self._params(conv, null)
        self.base_rate_ = float(par[0])
        self.effects_ = pd.Series(par[1:], index=self.channels_, name="effect")


def noisy_or_attribution(
    paths: pd.DataFrame,
    n_boot: int = 0,
    level: float = 0.9,
    random_state: int | None = 0,
    on_empty: str = "raise",
) -> pd.DataFrame:
    """The result table of :class:`NoisyOrAttribution` (channel, effect, contribution, share ...)."""
    return (
        NoisyOrAttribution(n_boot=n_boot, level=level, random_state=random_state, on_empty=on_empty)
        .fit(paths)
        .result_
    )
