"""Can the purchase model be trusted on these data? Checks of a fitted BG/NBD or Pareto/NBD.

A buy-till-you-die model separates two things: how often customers buy and whether they are
still there. On data where nobody visibly leaves (or with few repeat buyers) the second part is
not identified: the fit drives the dropout to zero (BG/NBD ``a → 0``), P(alive) is 1 for
everyone and the CLV silently assumes nobody ever leaves. The checks:

* **repeat buyers** — fewer than :data:`MIN_REPEAT_BUYERS` customers with a repeat purchase
  leave the parameters poorly determined;
* **dropout identified** — a likelihood-ratio test against the NBD in which nobody leaves
  (the model's own limit): if the full model is not better by the boundary-corrected 5 %
  critical value (2.71, a 50:50 mixture of χ²₀ and χ²₁), the data cannot tell leaving from
  buying rarely; also flagged when P(alive) > 0.999 for nearly every repeat buyer;
* **converged** — finite parameters inside (1e-6, 1e6) and a log-likelihood gradient of
  (nearly) zero at the estimates.

A model with any problem is *unreliable*: reports then say so instead of presenting CLV.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> T = rng.uniform(20, 60, 2000); lam = rng.gamma(0.8, 1 / 5, 2000)
>>> x = rng.poisson(lam * T).astype(float)                 # nobody ever leaves
>>> tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
>>> rfm = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
>>> chk = check_purchase_model(rfm, "bgnbd", {"r": 0.8, "alpha": 5.0, "a": 1e-4, "b": 3.0})
>>> chk.dropout_identified, chk.reliable
(False, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlab.churn.bgnbd import bgnbd_loglik, fit_nbd, p_alive
from cjlab.churn.pareto_nbd import p_alive as pareto_p_alive
from cjlab.churn.pareto_nbd import pareto_nbd_loglik

__all__ = ["CRITICAL_LR", "MIN_REPEAT_BUYERS", "PurchaseModelCheck", "check_purchase_model"]

MIN_REPEAT_BUYERS = 100
#: 5 % critical value of the likelihood-ratio test of a parameter on its boundary
CRITICAL_LR = 2.71
CERTAIN = 0.999  # P(alive) above this counts as "certainly alive"
NAMES = {"bgnbd": ("r", "alpha", "a", "b"), "pareto": ("r", "alpha", "s", "beta")}


@dataclass(frozen=True)
class PurchaseModelCheck:
    """The result of :func:`check_purchase_model` (``problems`` empty = reliable)."""

    model: str
    customers: int
    repeat_buyers: int
    loglik: float
    loglik_no_dropout: float
    lr_statistic: float
    share_certainly_alive: float
    max_gradient: float
    dropout_identified: bool
    converged: bool
    problems: tuple[str, ...]

    @property
    def reliable(self) -> bool:
        return not self.problems

    def table(self) -> pd.DataFrame:
        """The checks as a small table for reports (check, value, verdict)."""
        rows = [
            (
                "customers with a repeat purchase",
                f"{self.repeat_buyers:,} of {self.customers:,}",
                self.repeat_buyers >= MIN_REPEAT_BUYERS,
            ),
            (
                "better than a model where nobody leaves (likelihood ratio)",
                f"{self.lr_statistic:,.1f} (needs {CRITICAL_LR})",
                self.lr_statistic >= CRITICAL_LR,
            ),
            (
                "repeat buyers certainly still active (P(alive) > 0.999)",
                f"{100 * self.share_certainly_alive:.1f} %",
                self.share_certainly_alive <= 0.95,
            ),
            ("fit converged", "yes" if self.converged else "no", self.converged),
        ]
        return pd.DataFrame(
            [{"check": c, "value": v, "verdict": "ok" if ok else "problem"} for c, v, ok in rows]
        )


def _loglik(model: str, theta: np.ndarray, x, tx, T) -> float:
    f = bgnbd_loglik if model == "bgnbd" else pareto_nbd_loglik
    return float(np.sum(f(*theta, x, tx, T)))


def _gradient(model: str, theta: np.ndarray, x, tx, T, h: float = 1e-5) -> float:
    """Largest |d loglik / d log(parameter)| per customer at ``theta`` (central differences)."""
    z, g = np.log(theta), []
    for i in range(len(z)):
        up, down = z.copy(), z.copy()
        up[i] += h
        down[i] -= h
        g.append(
            (_loglik(model, np.exp(up), x, tx, T) - _loglik(model, np.exp(down), x, tx, T))
            / (2 * h)
        )
    return float(np.max(np.abs(g)) / max(len(x), 1))


def check_purchase_model(
    rfm: pd.DataFrame,
    model: str,
    params: Mapping[str, float],
    alive: np.ndarray | None = None,
    optimiser_converged: bool | None = None,
) -> PurchaseModelCheck:
    """Check a fitted purchase model on the customers it was fitted to.

    Parameters
    ----------
    rfm : ``frequency, recency, T`` per customer (:func:`cjlab.features.btyd.rfm_summary`).
    model : ``"bgnbd"`` or ``"pareto"``.
    params : the fitted parameters (``r, alpha, a, b`` or ``r, alpha, s, beta``).
    alive : P(alive) per customer (default: the closed form of ``model``).
    optimiser_converged : what the optimiser reported, when known (a fit that stopped early).
    """
    x, tx, T = (rfm[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    theta = np.array([float(params[n]) for n in NAMES[model]])
    ll = _loglik(model, theta, x, tx, T)
    ll0 = fit_nbd(x, T)[2]
    lr = max(2 * (ll - ll0), 0.0) if np.isfinite(ll) else 0.0
    if alive is None:
        alive = (p_alive if model == "bgnbd" else pareto_p_alive)(*theta, x, tx, T)
    rep = x > 0
    certain = float(np.mean(np.asarray(alive)[rep] > CERTAIN)) if rep.any() else 1.0
    finite = bool(np.all(np.isfinite(theta)) and np.all((theta > 1e-6) & (theta < 1e6)))
    grad = _gradient(model, theta, x, tx, T) if finite else np.inf
    converged = finite and grad < 1e-3 and optimiser_converged is not False
    identified = lr >= CRITICAL_LR and certain <= 0.95
    problems = []
    if rep.sum() < MIN_REPEAT_BUYERS:
        problems.append(
            f"only {int(rep.sum()):,} customers bought more than once (at least "
            f"{MIN_REPEAT_BUYERS} are needed to estimate the purchase model)"
        )
    if not identified:
        why = []
        if lr < CRITICAL_LR:
            why.append(
                "a model in which nobody ever leaves explains the purchases as well "
                f"(likelihood ratio {lr:.1f} < {CRITICAL_LR})"
            )
        if certain > 0.95:
            why.append(f"P(alive) is 1 for {100 * certain:.0f} % of repeat buyers")
        problems.append(
            f"dropout is not identified: {' and '.join(why)}, so the CLV would assume "
            "that nobody leaves"
        )
    if not converged:
        problems.append(
            "the fit of the purchase model did not converge (parameters at a bound or "
            "a non-zero gradient at the estimates)"
        )
    return PurchaseModelCheck(
        model=model,
        customers=len(x),
        repeat_buyers=int(rep.sum()),
        loglik=ll,
        loglik_no_dropout=ll0,
        lr_statistic=lr,
        share_certainly_alive=certain,
        max_gradient=grad,
        dropout_identified=identified,
        converged=converged,
        problems=tuple(problems),
    )
