"""Conversion A/B(/n) tests with Beta-Binomial posteriors: :func:`compare_conversions`.

All metrics come from one set of independent Beta posteriors, one per variant, and are
computed exactly (closed forms and 1-D integrals in :mod:`cjlab.ab.exact`), so the
absolute and the relative views agree: ``uplift > 0`` exactly when
``chance_to_beat_control > 0.5``, because both uplift point estimates are posterior medians.

Examples
--------
>>> import pandas as pd
>>> from cjlab.ab import compare_conversions
>>> df = pd.DataFrame({"variant": ["A", "B"], "users": [1000, 1000], "conversions": [100, 125]})
>>> res = compare_conversions(df)
>>> res[["variant", "chance_to_beat_control"]].round(4).to_dict("records")
[{'variant': 'A', 'chance_to_beat_control': nan}, {'variant': 'B', 'chance_to_beat_control': 0.9614}]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from cjlab.ab import exact


class ABInputError(ValueError):
    """Bad input to an A/B analysis (names the column, rule, count and example rows)."""


@dataclass(frozen=True)
class BetaPrior:
    """A Beta(a, b) prior on a conversion rate, shared by every variant.

    Parameters
    ----------
    a, b : prior pseudo-conversions and pseudo-non-conversions (> 0).
    label : short description for reports.

    Examples
    --------
    >>> BetaPrior.uniform()
    BetaPrior(a=1.0, b=1.0, label='uniform Beta(1, 1)')
    >>> p = BetaPrior.from_history(conversions=500, users=10_000, weight_users=1_000)
    >>> round(p.mean, 3), p.a + p.b
    (0.05, 1000.0)
    """

    a: float = 1.0
    b: float = 1.0
    label: str = "uniform Beta(1, 1)"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and np.isfinite(self.b) and self.a > 0 and self.b > 0):
            raise ABInputError(f"prior parameters must be finite and > 0, got a={self.a}, b={self.b}")
        if min(self.a, self.b) < exact.MIN_PARAM:
            raise ABInputError(f"prior parameters below {exact.MIN_PARAM} are not supported "
                               f"(got a={self.a}, b={self.b})")

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @classmethod
    def uniform(cls) -> BetaPrior:
        """Beta(1, 1): every rate equally likely (the default)."""
        return cls(1.0, 1.0, "uniform Beta(1, 1)")

    @classmethod
    def jeffreys(cls) -> BetaPrior:
        """Beta(1/2, 1/2), Jeffreys' prior (bayesian-testing's default)."""
        return cls(0.5, 0.5, "Jeffreys Beta(0.5, 0.5)")

    @classmethod
    def from_history(cls, conversions: float, users: float, weight_users: float | None = None
                     ) -> BetaPrior:
        """Informative prior centred on a historical rate.

        Parameters
        ----------
        conversions, users : historical totals (e.g. the control's last quarter).
        weight_users : how many users' worth of evidence the prior carries (default: all
            ``users``); down-weight old data, e.g. ``weight_users=1000``.
        """
        if users <= 0 or conversions < 0 or conversions > users:
            raise ABInputError(f"historical data must have 0 <= conversions <= users and users > 0, "
                               f"got conversions={conversions}, users={users}")
        w = float(users if weight_users is None else weight_users)
        rate = conversions / users
        a = max(rate * w, exact.MIN_PARAM)
        b = max((1 - rate) * w, exact.MIN_PARAM)
        return cls(a, b, f"historical Beta({a:.4g}, {b:.4g}) ({rate:.2%} over {w:,.0f} users)")

    @classmethod
    def from_rates(cls, rates) -> BetaPrior:
        """Moment-matched prior from a series of historical rates (e.g. weekly rates)."""
        r = np.asarray(rates, dtype=float)
        r = r[np.isfinite(r)]
        if len(r) < 2 or np.any((r < 0) | (r > 1)):
            raise ABInputError("need at least two historical rates in [0, 1]")
        m, v = r.mean(), r.var(ddof=1)
        if v <= 0 or v >= m * (1 - m):
            raise ABInputError(f"historical rates have variance {v:.3g}; cannot moment-match a Beta")
        n = m * (1 - m) / v - 1
        return cls(m * n, (1 - m) * n, f"historical Beta({m * n:.4g}, {(1 - m) * n:.4g}) from {len(r)} rates")


def as_prior(prior) -> BetaPrior:
    """Accept a :class:`BetaPrior`, ``"uniform"``, ``"jeffreys"``, or an ``(a, b)`` pair."""
    if prior is None or (isinstance(prior, str) and prior == "uniform"):
        return BetaPrior.uniform()
    if isinstance(prior, BetaPrior):
        return prior
    if isinstance(prior, str):
        if prior == "jeffreys":
            return BetaPrior.jeffreys()
        raise ABInputError(f"unknown prior {prior!r}: use 'uniform', 'jeffreys', (a, b) or BetaPrior")
    try:
        a, b = (float(v) for v in prior)
    except (TypeError, ValueError) as err:
        raise ABInputError(f"prior must be 'uniform', 'jeffreys', (a, b) or BetaPrior, got {prior!r}") from err
    return BetaPrior(a, b, f"Beta({a:g}, {b:g})")


# ---------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------

def _examples(df: pd.DataFrame, mask, cols, k: int = 3) -> str:
    rows = df.loc[mask, cols].head(k)
    return "; ".join(f"row {i}: " + ", ".join(f"{c}={r[c]!r}" for c in cols) for i, r in rows.iterrows())


def summarise_exposures(df: pd.DataFrame, variant: str = "variant", unit: str = "unit_id",
                        converted: str = "converted") -> pd.DataFrame:
    """Raw exposures (one row per unit and exposure) -> one row per variant.

    A unit counts once per variant; it converted if any of its rows has ``converted == 1``.

    Returns
    -------
    DataFrame with columns variant, users, conversions (in order of first appearance);
    ``attrs["units_in_several_variants"]`` counts units exposed to more than one variant.
    """
    missing = [c for c in (variant, unit, converted) if c not in df.columns]
    if missing:
        raise ABInputError(f"experiment_exposures: missing column(s) {missing}; "
                           f"have {list(df.columns)}")
    if df.empty:
        raise ABInputError("experiment_exposures: no rows (empty data)")
    if "experiment" in df.columns and df["experiment"].nunique() > 1:
        names = sorted(map(str, df["experiment"].unique()))
        raise ABInputError(f"experiment_exposures holds {len(names)} experiments {names[:5]}; "
                           "select one first, e.g. df[df.experiment == name]")
    conv = pd.to_numeric(df[converted], errors="coerce")
    bad = conv.isna() | ~conv.isin([0, 1])
    if bad.any():
        raise ABInputError(f"experiment_exposures.{converted}: {int(bad.sum())} value(s) not 0/1; "
                           + _examples(df, bad, [converted]))
    d = pd.DataFrame({"variant": df[variant].astype(str).to_numpy(), "unit": df[unit].to_numpy(),
                      "converted": conv.astype(int).to_numpy()})
    per_unit = d.groupby(["variant", "unit"], sort=False)["converted"].max().reset_index()
    out = per_unit.groupby("variant", sort=False).agg(users=("unit", "size"),
                                                       conversions=("converted", "sum"))
    out = out.reset_index()
    # units seen in more than one variant break the independence of the arms
    out.attrs["units_in_several_variants"] = int((per_unit["unit"].value_counts() > 1).sum())
    return out


def validate_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Check an aggregated table (variant, users, conversions); returns a clean copy."""
    if not isinstance(df, pd.DataFrame):
        raise ABInputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise ABInputError("no variants: the table is empty")
    need = ["variant", "users", "conversions"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ABInputError(f"missing column(s) {missing}; need variant, users, conversions "
                           f"(or raw exposures with unit_id, variant, converted); have {list(df.columns)}")
    d = df[need].copy()
    d["variant"] = d["variant"].astype(str)
    for c in ("users", "conversions"):
        v = pd.to_numeric(d[c], errors="coerce")
        bad = v.isna() | (v != np.floor(v.fillna(0)))
        if bad.any():
            raise ABInputError(f"column {c}: {int(bad.sum())} value(s) are not whole numbers; "
                               + _examples(d, bad, ["variant", c]))
        neg = v < 0
        if neg.any():
            raise ABInputError(f"column {c}: {int(neg.sum())} negative count(s); "
                               + _examples(d, neg, ["variant", c]))
        d[c] = v.astype(np.int64)
    over = d["conversions"] > d["users"]
    if over.any():
        raise ABInputError(f"conversions > users in {int(over.sum())} row(s); "
                           + _examples(d, over, ["variant", "users", "conversions"]))
    dup = d["variant"].duplicated(keep=False)
    if dup.any():
        raise ABInputError(f"variant names must be unique; repeated: {sorted(d.loc[dup, 'variant'].unique())}")
    if len(d) < 2:
        raise ABInputError(f"need at least two variants to compare, got {len(d)}: {list(d['variant'])}")
    return d.reset_index(drop=True)


def to_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Aggregated counts from either input form accepted by :func:`compare_conversions`."""
    if isinstance(df, pd.DataFrame) and {"unit_id", "converted"} <= set(df.columns) \
            and "users" not in df.columns:
        df = summarise_exposures(df)
    return validate_counts(df)


def pick_control(variants: list[str], control: str | None) -> str:
    """The control name: ``control`` if given (must exist), else 'control', 'A', or the first."""
    if control is not None:
        if str(control) not in variants:
            raise ABInputError(f"control {control!r} is not a variant; variants are {variants}")
        return str(control)
    for name in ("control", "Control", "A", "a", "baseline"):
        if name in variants:
            return name
    return variants[0]


# ---------------------------------------------------------------------------------------
# the public comparison
# ---------------------------------------------------------------------------------------

RESULT_COLUMNS = ["variant", "users", "conversions", "rate", "rate_low", "rate_high", "uplift",
                  "uplift_low", "uplift_high", "chance_to_beat_control", "chance_to_be_best",
                  "expected_loss"]


def conversion_metrics(alpha, beta, control: int = 0, ci: float = 0.95,
                       intervals: bool = True) -> dict[str, np.ndarray]:
    """Every decision metric for K Beta posteriors (the numeric core of :func:`compare_conversions`).

    Parameters
    ----------
    alpha, beta : posterior parameters per variant (prior + counts).
    control : index of the control.
    ci : credible-interval mass.
    intervals : also compute the uplift medians and intervals (6 root-findings per variant;
        skip them when only the decision metrics are needed, e.g. in simulations).

    Returns
    -------
    dict of arrays keyed like the columns of :func:`compare_conversions`.
    """
    a, b = exact._as_params(alpha, beta)
    k, c = len(a), int(control)
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    out: dict[str, np.ndarray] = {
        "rate": a / (a + b),
        "rate_low": special.betaincinv(a, b, lo_q),
        "rate_high": special.betaincinv(a, b, hi_q),
    }
    names = ("uplift", "uplift_low", "uplift_high", "abs_uplift", "abs_uplift_low",
             "abs_uplift_high", "chance_to_beat_control", "loss_vs_control",
             "loss_vs_control_relative", "control_loss", "control_loss_relative")
    for name in names:
        out[name] = np.full(k, np.nan)
    ac, bc = a[c], b[c]
    kappa = (ac + bc - 1) / (ac - 1) if ac > 1 else np.inf      # E[1 / p_c]
    for i in range(k):
        if i == c:
            for name in names:
                if name != "chance_to_beat_control":
                    out[name][i] = 0.0
            continue
        out["chance_to_beat_control"][i] = exact.prob_beat(ac, bc, a[i], b[i])
        loss_c, loss_v = exact.expected_loss_pair(ac, bc, a[i], b[i])
        out["loss_vs_control"][i] = loss_v
        out["control_loss"][i] = loss_c
        rel_v = exact.loss_vs_control_relative(ac, bc, a[i], b[i])
        out["loss_vs_control_relative"][i] = rel_v
        # E[(R - 1)^+] = E[(1 - R)^+] + E[R] - 1 with E[R] = mu_v E[1/p_c]
        out["control_loss_relative"][i] = (max(rel_v + a[i] / (a[i] + b[i]) * kappa - 1.0, 0.0)
                                           if np.isfinite(kappa) else np.inf)
        if intervals:
            for suffix, q in (("", 0.5), ("_low", lo_q), ("_high", hi_q)):
                out["uplift" + suffix][i] = exact.ratio_quantile(q, ac, bc, a[i], b[i]) - 1.0
                out["abs_uplift" + suffix][i] = exact.diff_quantile(q, ac, bc, a[i], b[i])
    out["chance_to_be_best"] = exact.prob_best(a, b)
    if k == 2:
        # Stucchio's pairwise closed forms; the relative one stays finite for the variant
        # even when the control posterior has alpha <= 1
        v = 1 - c
        out["expected_loss"] = np.array([out["control_loss"][v], out["loss_vs_control"][v]])[
            [0 if i == c else 1 for i in range(2)]]
        out["expected_loss_relative"] = np.array(
            [out["control_loss_relative"][v], out["loss_vs_control_relative"][v]])[
            [0 if i == c else 1 for i in range(2)]]
    else:
        out["expected_loss"] = exact.expected_loss(a, b)
        out["expected_loss_relative"] = exact.expected_loss_relative(a, b, control=c)
    return out


def compare_conversions(df: pd.DataFrame, control: str | None = None, prior="uniform",
                        ci: float = 0.95) -> pd.DataFrame:
    """Exact Bayesian comparison of conversion rates for two or more variants.

    Parameters
    ----------
    df : one row per variant with columns ``variant, users, conversions``, or raw exposures
        with ``unit_id, variant, converted`` (a unit counts once per variant).
    control : name of the control variant (default: 'control', 'A', else the first row).
    prior : ``"uniform"`` (Beta(1, 1), default), ``"jeffreys"``, ``(a, b)`` or a
        :class:`BetaPrior` (e.g. ``BetaPrior.from_history(...)``), used for every variant.
    ci : credible-interval mass (equal-tailed).

    Returns
    -------
    DataFrame, one row per variant (input order), with columns

    * ``variant, users, conversions``; ``observed_rate`` = conversions / users;
    * ``rate, rate_low, rate_high``: posterior mean and equal-tailed credible interval;
    * ``uplift, uplift_low, uplift_high``: relative uplift ``p_v / p_c - 1`` (posterior
      median and exact quantiles of the ratio of two Betas, by 1-D integration);
    * ``abs_uplift, abs_uplift_low, abs_uplift_high``: the same for ``p_v - p_c``;
    * ``chance_to_beat_control``: P(p_v > p_c) (Evan Miller's closed form; NaN for the control);
    * ``chance_to_be_best``: P(variant has the highest rate) (1-D integral);
    * ``expected_loss``: E[max_j p_j - p_v], the rate given up by choosing this variant
      (absolute units; with two variants Stucchio's closed form);
    * ``expected_loss_relative``: E[(max_j p_j - p_v) / p_c], the same in units of the
      control's rate (inf when the control posterior has alpha <= 1);
    * ``loss_vs_control``, ``loss_vs_control_relative``: E[max(p_c - p_v, 0)] and
      E[max(p_c - p_v, 0) / p_c], the risk of shipping this variant instead of the control;
    * ``control_loss``, ``control_loss_relative``: E[max(p_v - p_c, 0)] (and / p_c), the
      risk of keeping the control instead of this variant;
    * ``alpha``, ``beta``: posterior parameters; ``is_control``.

    The frame's ``attrs`` hold ``control``, ``prior`` (label, a, b) and ``ci``.

    Raises
    ------
    ABInputError
        conversions > users, negative or fractional counts, fewer than two variants, an
        unknown control, empty data, duplicated variant names.
    """
    if not 0 < ci < 1:
        raise ABInputError(f"ci must be in (0, 1), got {ci}")
    counts = to_counts(df)
    pr = as_prior(prior)
    variants = list(counts["variant"])
    ctrl = pick_control(variants, control)
    c = variants.index(ctrl)
    users = counts["users"].to_numpy(float)
    conv = counts["conversions"].to_numpy(float)
    a = pr.a + conv
    b = pr.b + users - conv

    m = conversion_metrics(a, b, control=c, ci=ci)
    out = pd.DataFrame({"variant": counts["variant"], "users": counts["users"],
                        "conversions": counts["conversions"]})
    for name in RESULT_COLUMNS[3:]:
        out[name] = m[name]
    out["observed_rate"] = np.where(users > 0, conv / np.where(users > 0, users, 1), np.nan)
    for name in ("abs_uplift", "abs_uplift_low", "abs_uplift_high", "expected_loss_relative",
                 "loss_vs_control", "loss_vs_control_relative", "control_loss",
                 "control_loss_relative"):
        out[name] = m[name]
    out["alpha"], out["beta"] = a, b
    out["is_control"] = np.arange(len(a)) == c
    out.attrs.update({"control": ctrl, "prior": {"label": pr.label, "a": pr.a, "b": pr.b}, "ci": ci})
    return out


def prior_sensitivity(df: pd.DataFrame, priors: dict, control: str | None = None,
                      ci: float = 0.95) -> pd.DataFrame:
    """The headline metrics of every non-control variant under several priors.

    Parameters
    ----------
    df : as for :func:`compare_conversions`.
    priors : mapping label -> prior (anything :func:`as_prior` accepts).

    Returns
    -------
    DataFrame: prior, variant, rate, uplift, uplift_low, uplift_high, chance_to_beat_control,
    expected_loss_relative.
    """
    rows = []
    for label, prior in priors.items():
        res = compare_conversions(df, control=control, prior=prior, ci=ci)
        for r in res[~res["is_control"]].itertuples(index=False):
            rows.append({"prior": label, "variant": r.variant, "rate": r.rate, "uplift": r.uplift,
                         "uplift_low": r.uplift_low, "uplift_high": r.uplift_high,
                         "chance_to_beat_control": r.chance_to_beat_control,
                         "expected_loss_relative": r.expected_loss_relative})
    return pd.DataFrame(rows)
