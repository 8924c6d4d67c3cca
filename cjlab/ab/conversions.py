"""Conversion A/B(/n) tests with Beta-Binomial posteriors: :func:`compare_conversions`.

All metrics come from one set of independent Beta posteriors, one per variant, and are
computed exactly (closed forms and 1-D integrals in :mod:`cjlab.ab.exact` and
:mod:`cjlab.ab.uplift`), so the absolute and the relative views agree: ``uplift > 0`` exactly
when ``chance_to_beat_control > 0.5``, because both uplift point estimates are posterior
medians. The whole table for two to four arms takes about a millisecond or two: input checks
run on numpy arrays, the frame is built once, two-arm tests use closed forms throughout, and
the six uplift quantiles of a variant are solved together.

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

from cjlab.ab import exact, uplift


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
            raise ABInputError(
                f"prior parameters must be finite and > 0, got a={self.a}, b={self.b}"
            )
        if min(self.a, self.b) < exact.MIN_PARAM:
            raise ABInputError(
                f"prior parameters below {exact.MIN_PARAM} are not supported "
                f"(got a={self.a}, b={self.b})"
            )

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
    def from_history(
        cls, conversions: float, users: float, weight_users: float | None = None
    ) -> BetaPrior:
        """Informative prior centred on a historical rate.

        Parameters
        ----------
        conversions, users : historical totals (e.g. the control's last quarter).
        weight_users : how many users' worth of evidence the prior carries (default: all
            ``users``); down-weight old data, e.g. ``weight_users=1000``.
        """
        if users <= 0 or conversions < 0 or conversions > users:
            raise ABInputError(
                f"historical data must have 0 <= conversions <= users and users > 0, "
                f"got conversions={conversions}, users={users}"
            )
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
            raise ABInputError(
                f"historical rates have variance {v:.3g}; cannot moment-match a Beta"
            )
        n = m * (1 - m) / v - 1
        return cls(
            m * n,
            (1 - m) * n,
            f"historical Beta({m * n:.4g}, {(1 - m) * n:.4g}) from {len(r)} rates",
        )


def as_prior(prior) -> BetaPrior:
    """Accept a :class:`BetaPrior`, ``"uniform"``, ``"jeffreys"``, or an ``(a, b)`` pair."""
    if prior is None or (isinstance(prior, str) and prior == "uniform"):
        return BetaPrior.uniform()
    if isinstance(prior, BetaPrior):
        return prior
    if isinstance(prior, str):
        if prior == "jeffreys":
            return BetaPrior.jeffreys()
        raise ABInputError(
            f"unknown prior {prior!r}: use 'uniform', 'jeffreys', (a, b) or BetaPrior"
        )
    try:
        a, b = (float(v) for v in prior)
    except (TypeError, ValueError) as err:
        raise ABInputError(
            f"prior must be 'uniform', 'jeffreys', (a, b) or BetaPrior, got {prior!r}"
        ) from err
    return BetaPrior(a, b, f"Beta({a:g}, {b:g})")


# ---------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------


def _examples(df: pd.DataFrame, mask, cols, k: int = 3) -> str:
    rows = df.loc[np.asarray(mask), cols].head(k)
    return "; ".join(
        f"row {i}: " + ", ".join(f"{c}={r[c]!r}" for c in cols) for i, r in rows.iterrows()
    )


def summarise_exposures(
    df: pd.DataFrame, variant: str = "variant", unit: str = "unit_id", converted: str = "converted"
) -> pd.DataFrame:
    """Raw exposures (one row per unit and exposure) -> one row per variant.

    A unit counts once per variant; it converted if any of its rows has ``converted == 1``
    (the counting is :func:`cjlab.features.experiment_counts`).

    Returns
    -------
    DataFrame with columns variant, users, conversions (in order of first appearance);
    ``attrs["units_in_several_variants"]`` counts units exposed to more than one variant.
    """
    from cjlab.features import to_pandas
    from cjlab.features.experiments import experiment_counts, experiment_overview

    missing = [c for c in (variant, unit, converted) if c not in df.columns]
    if missing:
        raise ABInputError(
            f"experiment_exposures: missing column(s) {missing}; have {list(df.columns)}"
        )
    if df.empty:
        raise ABInputError("experiment_exposures: no rows (empty data)")
    if "experiment" in df.columns and df["experiment"].nunique() > 1:
        names = sorted(map(str, df["experiment"].unique()))
        raise ABInputError(
            f"experiment_exposures holds {len(names)} experiments {names[:5]}; "
            "select one first, e.g. df[df.experiment == name]"
        )
    conv = pd.to_numeric(df[converted], errors="coerce")
    bad = conv.isna() | ~conv.isin([0, 1])
    if bad.any():
        raise ABInputError(
            f"experiment_exposures.{converted}: {int(bad.sum())} value(s) not 0/1; "
            + _examples(df, bad, [converted])
        )
    d = pd.DataFrame(
        {
            "experiment": "",
            "variant": df[variant].astype(str).to_numpy(),
            "unit_id": df[unit].to_numpy(),
            "converted": conv.astype(int).to_numpy(),
            "exposed_at": df["exposed_at"].to_numpy()
            if "exposed_at" in df.columns
            else pd.Timestamp(0),
        }
    )
    order = list(dict.fromkeys(d["variant"]))
    counts = experiment_counts(d).set_index("variant").loc[order].reset_index()
    out = counts[["variant", "users", "conversions"]].astype(
        {"users": "int64", "conversions": "int64"}
    )
    overlap = to_pandas(experiment_overview(d))
    out.attrs["units_in_several_variants"] = int(overlap["units_in_several_variants"].iloc[0])
    return out


def _whole(values, name: str, variants: list[str]) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype.kind not in "iuf":
        v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    v = v.astype(float)
    bad = ~np.isfinite(v) | (v != np.floor(np.where(np.isfinite(v), v, 0)))
    if bad.any():
        ex = [f"{variants[i]}={values[i]!r}" for i in np.flatnonzero(bad)[:3]]
        raise ABInputError(
            f"column {name}: {int(bad.sum())} value(s) are not whole numbers; " + ", ".join(ex)
        )
    neg = v < 0
    if neg.any():
        ex = [f"{variants[i]}={int(v[i])}" for i in np.flatnonzero(neg)[:3]]
        raise ABInputError(f"column {name}: {int(neg.sum())} negative count(s); " + ", ".join(ex))
    return v


def validate_counts(df: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Check an aggregated table (variant, users, conversions) with numpy.

    Returns
    -------
    (variant names, users, conversions) as a list and two float arrays.
    """
    if not isinstance(df, pd.DataFrame):
        raise ABInputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise ABInputError("no variants: the table is empty")
    missing = [c for c in ("variant", "users", "conversions") if c not in df.columns]
    if missing:
        raise ABInputError(
            f"missing column(s) {missing}; need variant, users, conversions "
            f"(or raw exposures with unit_id, variant, converted); have {list(df.columns)}"
        )
    variants = [str(v) for v in df["variant"].tolist()]
    users = _whole(df["users"].to_numpy(), "users", variants)
    conv = _whole(df["conversions"].to_numpy(), "conversions", variants)
    over = conv > users
    if over.any():
        ex = [f"{variants[i]}: {int(conv[i])} > {int(users[i])}" for i in np.flatnonzero(over)[:3]]
        raise ABInputError(f"conversions > users in {int(over.sum())} row(s); " + ", ".join(ex))
    if len(set(variants)) < len(variants):
        rep = sorted({v for v in variants if variants.count(v) > 1})
        raise ABInputError(f"variant names must be unique; repeated: {rep}")
    if len(variants) < 2:
        raise ABInputError(
            f"need at least two variants to compare, got {len(variants)}: {variants}"
        )
    return variants, users, conv


def to_counts(df: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Variant names, users and conversions from either input form of :func:`compare_conversions`."""
    if (
        isinstance(df, pd.DataFrame)
        and "users" not in df.columns
        and {"unit_id", "converted"} <= set(df.columns)
    ):
        df = summarise_exposures(df)
    return validate_counts(df)


#: Names that mark the control arm (compared without case, spaces, "-" or "_").
CONTROL_NAMES = (
    "control",
    "holdout",
    "noemail",
    "nomail",
    "nocontact",
    "notreatment",
    "baseline",
    "a",
    "original",
    "default",
    "champion",
    "statusquo",
    "untreated",
)


def _key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def pick_control(variants: list[str], control: str | None = None) -> str:
    """The control arm: ``control`` if given (it must exist), else the one variant with an
    obvious name (control, holdout, "No E-Mail", baseline, A ...; see :data:`CONTROL_NAMES`).

    Raises
    ------
    ABInputError
        ``control`` is not a variant, or no (or more than one equally good) obvious name:
        the message lists the variants. The control is never guessed from the row order.
    """
    names = [str(v) for v in variants]
    if control is not None and str(control) != "":
        if str(control) not in names:
            raise ABInputError(f"control {control!r} is not a variant; variants are {names}")
        return str(control)
    keys = [_key(v) for v in names]
    for word in CONTROL_NAMES:
        hits = [v for v, k in zip(names, keys) if k == word]
        if len(hits) == 1:
            return hits[0]
    starts = [v for v, k in zip(names, keys) if k.startswith(("control", "holdout"))]
    if len(starts) == 1:
        return starts[0]
    raise ABInputError(
        f"cannot tell which variant is the control among {names}: set control "
        "to one of them (names such as control, holdout, 'No E-Mail', baseline "
        "or A are recognised)"
    )


# ---------------------------------------------------------------------------------------
# the public comparison
# ---------------------------------------------------------------------------------------

RESULT_COLUMNS = [
    "variant",
    "users",
    "conversions",
    "rate",
    "rate_low",
    "rate_high",
    "uplift",
    "uplift_low",
    "uplift_high",
    "chance_to_beat_control",
    "chance_to_be_best",
    "expected_loss",
]
_PAIR = (
    "uplift",
    "uplift_low",
    "uplift_high",
    "abs_uplift",
    "abs_uplift_low",
    "abs_uplift_high",
    "chance_to_beat_control",
    "loss_vs_control",
    "loss_vs_control_relative",
    "control_loss",
    "control_loss_relative",
)


def _pairwise(out: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, c: int, i: int) -> None:
    """Variant ``i`` against control ``c``: the closed forms."""
    ac, bc = a[c], b[c]
    p, loss_c, loss_v, rel_v = exact.pair_terms(ac, bc, a[i], b[i])
    out["chance_to_beat_control"][i] = p
    out["loss_vs_control"][i], out["control_loss"][i] = loss_v, loss_c
    out["loss_vs_control_relative"][i] = rel_v
    # E[(R - 1)^+] = E[(1 - R)^+] + E[R] - 1 with E[R] = mu_v E[1 / p_c]
    out["control_loss_relative"][i] = (
        max(rel_v + a[i] / (a[i] + b[i]) * (ac + bc - 1) / (ac - 1) - 1.0, 0.0)
        if ac > 1
        else np.inf
    )


def conversion_metrics(
    alpha, beta, control: int = 0, level: float = 0.95, intervals: bool = True
) -> dict[str, np.ndarray]:
    """Every decision metric for K Beta posteriors (the numeric core of :func:`compare_conversions`).

    Parameters
    ----------
    alpha, beta : posterior parameters per variant (prior + counts).
    control : index of the control.
    level : credible-interval mass.
    intervals : also compute the uplift medians and intervals (skip them when only the
        decision metrics are needed, e.g. in simulations).

    Returns
    -------
    dict of arrays keyed like the columns of :func:`compare_conversions`.
    """
    a, b = exact._as_params(alpha, beta)
    k, c = len(a), int(control)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    bounds = special.betaincinv(a[:, None], b[:, None], np.array([lo_q, hi_q]))
    out: dict[str, np.ndarray] = {
        "rate": a / (a + b),
        "rate_low": bounds[:, 0],
        "rate_high": bounds[:, 1],
    }
    for name in _PAIR:
        out[name] = np.zeros(k)
    out["chance_to_beat_control"][c] = np.nan
    others = [i for i in range(k) if i != c]
    for i in others:
        _pairwise(out, a, b, c, i)
    if intervals:  # the six uplift quantiles of every variant, solved together
        qs = uplift.uplift_quantiles_many(
            (lo_q, 0.5, hi_q), (a[c], b[c]), [(a[i], b[i]) for i in others]
        )
        for i, q in zip(others, qs):
            for j, suffix in enumerate(("_low", "", "_high")):
                out["uplift" + suffix][i] = q["ratio"][j] - 1.0
                out["abs_uplift" + suffix][i] = q["diff"][j]
    else:
        for name in _PAIR[:6]:
            out[name][:] = np.nan
    if k == 2:
        # closed forms: P(best) and the losses against the best arm are the pairwise ones
        v = 1 - c
        order = [0 if i == c else 1 for i in range(2)]
        p = out["chance_to_beat_control"][v]
        out["chance_to_be_best"] = np.array([1.0 - p, p])[order]
        out["expected_loss"] = np.array([out["control_loss"][v], out["loss_vs_control"][v]])[order]
        out["expected_loss_relative"] = np.array(
            [out["control_loss_relative"][v], out["loss_vs_control_relative"][v]]
        )[order]
    else:
        p_best, loss, rel = exact.best_and_losses(a, b, control=c)
        out["chance_to_be_best"], out["expected_loss"], out["expected_loss_relative"] = (
            p_best,
            loss,
            rel,
        )
    return out


def _frame(cols: dict) -> pd.DataFrame:
    """A DataFrame from equal-length columns without re-checking them (half the time of the
    public constructor for a table this small); falls back to the constructor."""
    names = list(cols)
    arrays = [np.asarray(v, dtype=object) if isinstance(v, list) else v for v in cols.values()]
    try:
        return pd.DataFrame._from_arrays(
            arrays, columns=names, index=pd.RangeIndex(len(arrays[0])), verify_integrity=False
        )
    except (AttributeError, TypeError):  # pragma: no cover - a pandas without the fast path
        return pd.DataFrame(cols)


def compare_conversions(
    df: pd.DataFrame, control: str | None = None, prior="uniform", level: float = 0.95
) -> pd.DataFrame:
    """Exact Bayesian comparison of conversion rates for two or more variants.

    Parameters
    ----------
    df : one row per variant with columns ``variant, users, conversions``, or raw exposures
        with ``unit_id, variant, converted`` (a unit counts once per variant).
    control : name of the control variant (default: the variant with an obvious control
        name, see :func:`pick_control`; otherwise an error listing the variants).
    prior : ``"uniform"`` (Beta(1, 1), default), ``"jeffreys"``, ``(a, b)`` or a
        :class:`BetaPrior` (e.g. ``BetaPrior.from_history(...)``), used for every variant.
    level : credible-interval mass (equal-tailed).

    Returns
    -------
    DataFrame, one row per variant (input order), with columns

    * ``variant, users, conversions``; ``observed_rate`` = conversions / users;
    * ``rate, rate_low, rate_high``: posterior mean and equal-tailed credible interval;
    * ``uplift, uplift_low, uplift_high``: relative uplift ``p_v / p_c - 1`` (posterior
      median and exact quantiles of the ratio of two Betas, by 1-D integration);
    * ``abs_uplift, abs_uplift_low, abs_uplift_high``: the same for ``p_v - p_c``;
    * ``chance_to_beat_control``: P(p_v > p_c) (Evan Miller's closed form; NaN for the control);
    * ``chance_to_be_best``: P(variant has the highest rate);
    * ``expected_loss``: E[max_j p_j - p_v], the rate given up by choosing this variant
      instead of the best arm (absolute units; with two variants Stucchio's closed form);
    * ``expected_loss_relative``: E[(max_j p_j - p_v) / p_c], the same in units of the
      control's rate — *the* expected loss of the decision rule (inf when the control
      posterior has alpha <= 1 and there are more than two arms);
    * ``loss_vs_control``, ``loss_vs_control_relative``: E[max(p_c - p_v, 0)] (and / p_c),
      the pairwise risk of this variant against the control alone;
    * ``control_loss``, ``control_loss_relative``: E[max(p_v - p_c, 0)] (and / p_c);
    * ``alpha``, ``beta``: posterior parameters; ``is_control``.

    The frame's ``attrs`` hold ``control``, ``prior`` (label, a, b) and ``level``.

    Raises
    ------
    ABInputError
        conversions > users, negative or fractional counts, fewer than two variants, an
        unknown or unrecognisable control, empty data, duplicated variant names.
    """
    if not 0 < level < 1:
        raise ABInputError(f"level must be in (0, 1), got {level}")
    variants, users, conv = to_counts(df)
    pr = as_prior(prior)
    ctrl = pick_control(variants, control)
    c = variants.index(ctrl)
    a = pr.a + conv
    b = pr.b + users - conv
    m = conversion_metrics(a, b, control=c, level=level)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.where(users > 0, conv / users, np.nan)
    cols = {
        "variant": variants,
        "users": users.astype(np.int64),
        "conversions": conv.astype(np.int64),
    }
    cols.update({name: m[name] for name in RESULT_COLUMNS[3:]})
    cols["observed_rate"] = observed
    for name in (
        "abs_uplift",
        "abs_uplift_low",
        "abs_uplift_high",
        "expected_loss_relative",
        "loss_vs_control",
        "loss_vs_control_relative",
        "control_loss",
        "control_loss_relative",
    ):
        cols[name] = m[name]
    cols.update(alpha=a, beta=b, is_control=np.arange(len(a)) == c)
    out = _frame(cols)
    out.attrs.update(
        {"control": ctrl, "prior": {"label": pr.label, "a": pr.a, "b": pr.b}, "level": level}
    )
    return out


def prior_sensitivity(
    df: pd.DataFrame, priors: dict, control: str | None = None, level: float = 0.95
) -> pd.DataFrame:
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
        res = compare_conversions(df, control=control, prior=prior, level=level)
        for r in res[~res["is_control"]].itertuples(index=False):
            rows.append(
                {
                    "prior": label,
                    "variant": r.variant,
                    "rate": r.rate,
                    "uplift": r.uplift,
                    "uplift_low": r.uplift_low,
                    "uplift_high": r.uplift_high,
                    "chance_to_beat_control": r.chance_to_beat_control,
                    "expected_loss_relative": r.expected_loss_relative,
                }
            )
    return pd.DataFrame(rows)
