"""compare_conversions, decisions, SRM and evolution: bad input, consistency, peers, demo truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cjlab.ab import ABInputError, BetaPrior, compare_conversions
from cjlab.ab.decision import daily_evolution, decide, fast_verdict, srm_check


def counts(users, conversions, names=None):
    names = names or [chr(ord("A") + i) for i in range(len(users))]
    return pd.DataFrame({"variant": names, "users": users, "conversions": conversions})


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("df", "kw", "match"),
    [
        (counts([100, 100], [10, 120]), {}, r"conversions > users in 1 row"),
        (counts([100, -5], [10, 0]), {}, r"users: 1 negative"),
        (counts([100, 100], [-1, 3]), {}, r"conversions: 1 negative"),
        (counts([100], [10]), {}, r"at least two variants"),
        (counts([100, 100], [10, 12]), {"control": "Z"}, r"control 'Z' is not a variant"),
        (pd.DataFrame(columns=["variant", "users", "conversions"]), {}, r"empty"),
        (pd.DataFrame({"variant": ["A", "B"], "users": [5, 5]}), {}, r"missing column"),
        (counts([100, 100.5], [10, 12]), {}, r"not whole numbers"),
        (counts([100, 100], [10, 12], ["A", "A"]), {}, r"unique"),
        (counts([100, 100], [10, 12]), {"prior": (0, 1)}, r"> 0"),
        (counts([100, 100], [10, 12]), {"prior": "flat-ish"}, r"unknown prior"),
    ],
)
def test_bad_input_raises_clear_error(df, kw, match):
    with pytest.raises(ABInputError, match=match):
        compare_conversions(df, **kw)


def test_bad_raw_exposures():
    raw = pd.DataFrame({"variant": ["A", "B"], "unit_id": [1, 2], "converted": [0, 2]})
    with pytest.raises(ABInputError, match=r"not 0/1"):
        compare_conversions(raw)
    with pytest.raises(ABInputError, match=r"empty"):
        compare_conversions(raw.iloc[:0])
    mixed = pd.DataFrame(
        {"experiment": ["e1", "e2"], "variant": ["A", "B"], "unit_id": [1, 2], "converted": [0, 1]}
    )
    with pytest.raises(ABInputError, match=r"2 experiments"):
        compare_conversions(mixed)


# ------------------------------------------------------------------ output contract
def test_columns_and_control_row():
    res = compare_conversions(counts([1000, 1000, 1000], [100, 125, 90]))
    assert list(res.columns[:12]) == [
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
    assert res.attrs["control"] == "A"
    ctrl = res.iloc[0]
    assert np.isnan(ctrl.chance_to_beat_control) and ctrl.uplift == 0
    assert abs(res.chance_to_be_best.sum() - 1) < 1e-10


def test_raw_exposures_equal_aggregated_counts():
    rng = np.random.default_rng(3)
    raw = pd.DataFrame(
        {
            "unit_id": np.arange(600),
            "variant": np.repeat(["control", "B", "C"], 200),
            "converted": rng.binomial(1, 0.2, 600),
        }
    )
    # a unit logged twice counts once; converted if any row converted
    raw = pd.concat([raw, raw.iloc[[0]].assign(converted=1)], ignore_index=True)
    agg = (
        raw.groupby(["variant", "unit_id"])["converted"]
        .max()
        .groupby("variant")
        .agg(["size", "sum"])
    )
    res = compare_conversions(raw).set_index("variant")
    assert res.attrs["control"] == "control"
    for v in ("control", "B", "C"):
        assert (
            res.loc[v, "users"] == agg.loc[v, "size"]
            and res.loc[v, "conversions"] == agg.loc[v, "sum"]
        )


def test_rate_interval_is_beta_quantiles_and_prior_enters():
    res = compare_conversions(counts([50, 50], [5, 9]), prior=(2, 30), level=0.9)
    d = stats.beta(2 + 9, 30 + 41)
    assert abs(res.rate[1] - d.mean()) < 1e-14
    assert (
        abs(res.rate_low[1] - d.ppf(0.05)) < 1e-12 and abs(res.rate_high[1] - d.ppf(0.95)) < 1e-12
    )


def test_absolute_and_relative_views_agree():
    # both uplift point estimates are posterior medians: same sign as P(beat) - 1/2
    for conv in ([100, 103], [100, 97], [0, 1], [20, 20]):
        res = compare_conversions(counts([1000, 1000], conv))
        p, up, abs_up = res.chance_to_beat_control[1], res.uplift[1], res.abs_uplift[1]
        assert np.sign(up) == np.sign(abs_up) == np.sign(round(p - 0.5, 12))


def test_swapping_control_mirrors_results():
    df = counts([800, 900], [60, 85])
    r1 = compare_conversions(df, control="A")
    r2 = compare_conversions(df, control="B")
    assert abs(r1.chance_to_beat_control[1] + r2.chance_to_beat_control[0] - 1) < 1e-12
    # ratio quantiles invert: q-quantile of B/A = 1 / (1-q)-quantile of A/B
    assert abs((1 + r1.uplift_low[1]) * (1 + r2.uplift_high[0]) - 1) < 1e-9
    assert abs(r1.abs_uplift_low[1] + r2.abs_uplift_high[0]) < 1e-9


def test_prior_from_history():
    p = BetaPrior.from_history(conversions=500, users=10_000, weight_users=1_000)
    assert abs(p.a - 50) < 1e-12 and abs(p.b - 950) < 1e-12
    rates = np.random.default_rng(1).beta(40, 760, size=400)
    q = BetaPrior.from_rates(rates)
    assert abs(q.mean - 0.05) < 0.002 and 500 < q.a + q.b < 1200
    # an informative prior pulls a small sample towards the historical rate
    small = counts([30, 30], [0, 3])
    flat = compare_conversions(small)
    inf = compare_conversions(small, prior=p)
    assert abs(inf.rate[0] - 0.05) < abs(flat.rate[0] - 0.05)


# ------------------------------------------------------------------ peers inside the test
def test_prob_best_and_loss_agree_with_bayesian_testing_monte_carlo():
    bt = pytest.importorskip("bayesian_testing.experiments")
    users, conv = [5000, 5000, 5000], [500, 540, 520]
    test = bt.BinaryDataTest()
    for name, n, c in zip("ABC", users, conv):
        test.add_variant_data_agg(name, n, c, a_prior=1, b_prior=1)
    sims = 200_000
    pbb, loss, _ = test.eval_simulation(sim_count=sims, seed=7)
    res = compare_conversions(counts(users, conv))
    for i, name in enumerate("ABC"):
        p = res.chance_to_be_best[i]
        se = np.sqrt(p * (1 - p) / sims)
        assert abs(pbb[name] - p) < 4 * se + 1e-5  # bayesian-testing rounds to 1e-5
        assert abs(loss[name] - res.expected_loss[i]) < 5e-5


def test_chance_to_win_close_to_gbstats_normal_approximation_at_large_n():
    gb = pytest.importorskip("gbstats.bayesian.tests")
    from gbstats.models.statistics import ProportionStatistic

    a, b = ProportionStatistic(n=200_000, sum=20_000), ProportionStatistic(n=200_000, sum=20_300)
    r = gb.EffectBayesianABTest(
        a, b, gb.EffectBayesianConfig(difference_type="absolute")
    ).compute_result()
    res = compare_conversions(counts([200_000, 200_000], [20_000, 20_300]))
    # different models (flat-prior normal vs Beta): agree to the normal-approximation error
    assert abs(r.chance_to_win - res.chance_to_beat_control[1]) < 2e-3
    assert abs(r.risk[1] - res.loss_vs_control[1]) < 2e-5


# ------------------------------------------------------------------ decisions
def test_decision_rule_cases():
    ship = decide(compare_conversions(counts([20_000, 20_000], [2_000, 2_300])), 0.01, 0.002)
    assert ship.verdict == "ship B"
    worse = decide(compare_conversions(counts([20_000, 20_000], [2_300, 2_000])), 0.01, 0.002)
    assert worse.verdict == "keep control"
    same = decide(
        compare_conversions(counts([2_000_000, 2_000_000], [200_000, 200_100])), 0.02, 1e-5
    )
    assert same.verdict == "equivalent"
    unclear = decide(compare_conversions(counts([200, 200], [20, 23])), 0.01, 0.001)
    assert unclear.verdict == "keep testing"


def test_fast_verdict_matches_decide():
    for users, conv, rope, thr in [
        ([20_000, 20_000], [2_000, 2_300], 0.01, 0.002),
        ([20_000, 20_000], [2_300, 2_000], 0.01, 0.002),
        ([2_000_000, 2_000_000], [200_000, 200_100], 0.02, 1e-5),
        ([200, 200], [20, 23], 0.01, 0.001),
    ]:
        res = compare_conversions(counts(users, conv))
        d = decide(res, rope, thr).table.verdict[0]
        f = fast_verdict(res.alpha[0], res.beta[0], res.alpha[1], res.beta[1], rope, thr)
        assert ("ship" if d.startswith("ship") else d) == f


def test_srm_flags_imbalanced_split_and_overrides_verdict():
    rng = np.random.default_rng(11)
    n = 20_000
    balanced = rng.multinomial(n, [0.5, 0.5])
    skewed = rng.multinomial(n, [0.52, 0.48])  # logging drops 4 % of B
    ok = srm_check(dict(zip("AB", balanced)), {"A": 0.5, "B": 0.5})
    bad = srm_check(dict(zip("AB", skewed)), {"A": 0.5, "B": 0.5})
    assert not ok.flagged and bad.flagged and "SAMPLE RATIO MISMATCH" in bad.message
    # chi-square statistic equals the textbook formula
    exp = n / 2
    assert abs(bad.chi2 - sum((o - exp) ** 2 / exp for o in skewed)) < 1e-9
    res = compare_conversions(counts(list(skewed), [1000, 1200]))
    assert decide(res, srm=bad).verdict.startswith("do not trust")
    # unequal planned split is honoured
    assert not srm_check({"A": 7_000, "B": 3_000}, {"A": 0.7, "B": 0.3}).flagged


def test_srm_false_positive_rate_is_near_threshold():
    rng = np.random.default_rng(5)
    flags = [
        srm_check(dict(zip("AB", rng.multinomial(10_000, [0.5, 0.5]))), threshold=0.05).flagged
        for _ in range(2000)
    ]
    assert 0.03 < np.mean(flags) < 0.07


# ------------------------------------------------------------------ demo ground truth
def test_recovers_planted_lifts_and_srm_in_demo_experiments():
    from cjlab.data import open_source

    src = open_source("demo:n_customers=20000,seed=42")
    exp = src.load("experiment_exposures")["experiment_exposures"]
    truth = src.truth["experiments"]
    for name, g in exp.groupby("experiment"):
        t = truth[name]
        res = compare_conversions(g, control=t["control"], level=0.99).set_index("variant")
        for v, lift in t["relative_lift"].items():
            if v == t["control"]:
                continue
            assert res.loc[v, "uplift_low"] <= lift <= res.loc[v, "uplift_high"], (name, v)
        srm = srm_check(res["users"], t["planned_split"])
        assert srm.flagged == t["srm"], (name, srm.message)


def test_daily_evolution_ends_at_the_final_comparison():
    rng = np.random.default_rng(2)
    n = 3000
    raw = pd.DataFrame(
        {
            "unit_id": np.arange(n),
            "variant": rng.choice(["control", "B"], n),
            "converted": rng.binomial(1, 0.1, n),
            "exposed_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 14, n), "D"),
        }
    )
    ev = daily_evolution(raw)
    assert ev.date.nunique() == 14
    last = ev[ev.date == ev.date.max()].set_index("variant")
    final = compare_conversions(raw).set_index("variant")
    assert (
        abs(last.loc["B", "chance_to_beat_control"] - final.loc["B", "chance_to_beat_control"])
        < 1e-12
    )
    assert (ev.groupby("variant").users.diff().dropna() >= 0).all()


def test_units_in_several_variants_are_counted():
    from cjlab.ab import summarise_exposures

    raw = pd.DataFrame(
        {
            "unit_id": [1, 2, 3, 3, 4],
            "variant": ["A", "A", "A", "B", "B"],
            "converted": [0, 1, 0, 1, 0],
        }
    )
    s = summarise_exposures(raw)
    assert s.attrs["units_in_several_variants"] == 1
    assert s.set_index("variant").loc["B", "users"] == 2
