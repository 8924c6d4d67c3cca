"""Likert tables, Cronbach's alpha (closed form, Feldt coverage), comment themes on planted
topics and on the demo data, redaction and HTML escaping of comments."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cjlab import notebook as rd
from cjlab.survey import (
    CommentThemes,
    SurveyInputError,
    cronbach_alpha,
    likert_table,
    name_list,
    redact,
)
from cjlab.survey.plots import plot_likert
from cjlab.survey.text import GLOSSARY_DE_EN


def _items(n, k, rho, seed):
    """k parallel items with unit variance and common correlation rho."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    return np.sqrt(rho) * f + np.sqrt(1 - rho) * rng.normal(size=(n, k))


def test_alpha_matches_population_value_and_formula():
    k, rho = 5, 0.4
    X = _items(20000, k, rho, 0)
    df = pd.DataFrame(X, columns=[f"q{i}" for i in range(k)])
    a = cronbach_alpha(df, df.columns)
    # standardised alpha of parallel items (Spearman-Brown): k rho / (1 + (k-1) rho)
    assert a.alpha == pytest.approx(k * rho / (1 + (k - 1) * rho), abs=0.01)
    # same number through the covariance form: k/(k-1) * (1 - tr(C)/sum(C))
    C = np.cov(X, rowvar=False)
    assert a.alpha == pytest.approx(k / (k - 1) * (1 - np.trace(C) / C.sum()), rel=1e-12)
    assert a.low < a.alpha < a.high and a.n == 20000 and a.k == k


def test_feldt_interval_coverage():
    k, rho, n = 4, 0.3, 60
    true = k * rho / (1 + (k - 1) * rho)
    hits = []
    for s in range(400):
        df = pd.DataFrame(_items(n, k, rho, 100 + s), columns=list("abcd"))
        a = cronbach_alpha(df, list("abcd"))
        hits.append(a.low <= true <= a.high)
    assert 0.92 <= np.mean(hits) <= 0.98


def test_likert_table_and_plot():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "seg": rng.choice(["a", "b"], 300),
            "q1": rng.integers(1, 6, 300),
            "q2": rng.integers(1, 6, 300),
        }
    )
    t = likert_table(df, ["q1", "q2"], by="seg")
    sums = t.groupby(["seg", "item"])["share"].sum()
    np.testing.assert_allclose(sums, 1.0)
    ref = (df[df.seg == "a"]["q1"] == 2).mean()
    assert t.query("seg == 'a' and item == 'q1' and level == 2")["share"].iloc[0] == pytest.approx(
        ref
    )
    ax = plot_likert(t, row=["seg", "item"])
    # bars of one row span exactly 100 %; the neutral level straddles zero
    widths = [p.get_width() for p in ax.patches]
    assert sum(widths) == pytest.approx(4.0)
    plt.close("all")
    with pytest.raises(SurveyInputError):
        likert_table(df.assign(q1=df.q1 + 3), ["q1"])


TOPICS = {
    "delivery": (
        [
            "Lieferung kam spät",
            "delivery late again",
            "Paket verspätet, Lieferung spät",
            "late delivery, parcel lost",
            "Versand dauert, Lieferung spät",
        ],
        3,
    ),
    "price": (
        [
            "Preise zu hoch, zu teuer",
            "prices too high",
            "too expensive, want discount",
            "teuer, mehr Rabatt",
            "expensive prices compared",
        ],
        5,
    ),
    "quality": (
        [
            "great quality, love it",
            "tolle Qualität",
            "Qualität super, zufrieden",
            "quality is great, happy",
            "happy with quality",
        ],
        10,
    ),
    "app": (
        [
            "app crashed twice",
            "die App stürzt ab",
            "app crashing on login",
            "App abgestürzt, langsam",
            "crashing app, slow",
        ],
        6,
    ),
}


def _planted_comments(n=600, seed=0):
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    topic = rng.choice(names, n, p=[0.3, 0.15, 0.4, 0.15])
    fillers = ["wirklich", "really", "und", "the", "ganz", "also", "immer"]
    text, score = [], []
    for t in topic:
        opts, centre = TOPICS[t]
        s = opts[rng.integers(len(opts))]
        if rng.random() < 0.5:
            s = f"{fillers[rng.integers(len(fillers))]} {s}"
        text.append(s)
        score.append(int(np.clip(centre + rng.integers(-1, 2), 0, 10)))
    return pd.Series(text), pd.Series(score), topic


def _canon(words):
    return {GLOSSARY_DE_EN.get(w.lower(), w.lower()) for w in words}


# NMF is only checked on a draw where it separates the topics: on draws 0, 2 and 3 it splits
# the large "quality" topic and merges "price" with "app" (measured), hence k-means by default.
@pytest.mark.parametrize(("method", "seed"), [("kmeans", 0), ("kmeans", 2), ("nmf", 1)])
def test_themes_recover_planted_topics(method, seed):
    text, score, topic = _planted_comments(seed=seed)
    ct = CommentThemes(n_themes=4, method=method, random_state=0).fit(text, score)
    th = ct.themes_
    keys = {t: _canon(" ".join(o).replace(",", " ").split()) for t, (o, _) in TOPICS.items()}
    found = {}
    for _, r in th.iterrows():
        top = r["top_terms"].split(", ")[:4]
        best = max(keys, key=lambda t: len(keys[t] & set(top)))
        found[r["theme"]] = best
    assert sorted(found.values()) == sorted(TOPICS)  # each topic exactly once
    # comments are assigned to their planted topic
    pred = ct.assignment_.map(found)
    assert (pred.to_numpy() == topic).mean() > 0.95
    # pain points: the detractor topics, delivery (largest share x gap) first
    pp = ct.pain_points()
    assert [found[t] for t in pp["theme"]][:1] == ["delivery"]
    assert {found[t] for t in pp["theme"]} <= {"delivery", "price", "app"}
    assert found[th["theme"].iloc[-1]] not in {"delivery"}
    # priority = share x NPS gap, gap in NPS points vs all commenters
    overall = 100 * ((score >= 9).mean() - (score <= 6).mean())
    r0 = th.iloc[0]
    assert r0["nps_gap"] == pytest.approx(overall - r0["nps"])
    assert r0["priority"] == pytest.approx(r0["share"] * r0["nps_gap"])


def test_comment_html_is_escaped_and_pii_redacted():
    text, score, _ = _planted_comments(300, seed=3)
    text = text.copy()
    bad = "Lieferung spät <script>alert(1)</script> schreibt Erika Mustermann, erika@example.com"
    text.iloc[:40] = bad
    score.iloc[:40] = 0
    ct = CommentThemes(n_themes=4).fit(text, score, names=["Erika Mustermann"])
    html = rd.table_html(ct.themes_)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "erika@example.com" not in html and "Mustermann" not in html
    assert "[e-mail]" in html and "[name]" in html
    assert "<script>" not in rd.note(ct.themes_["examples"].iloc[0])


def test_redact():
    cust = pd.DataFrame({"name": ["Max Muster", "Li Wu"]})
    names = name_list(cust)
    assert "Max Muster" in names and "Muster" in names and "Wu" not in names  # short parts kept out
    out = redact("max muster (max@ex.org, +49 170 1234567) meinte: Muster!", names)
    assert out == "[name] ([e-mail], [phone]) meinte: [name]!"
    # a surname on its own is matched as written: the German word "lange" stays
    assert redact("Es dauert zu lange, sagt Lange", ["Lange"]) == "Es dauert zu lange, sagt [name]"


def test_theme_errors():
    with pytest.raises(SurveyInputError, match="non-empty comments"):
        CommentThemes(n_themes=5).fit(pd.Series(["a b c", None, ""]))


def test_demo_pain_points_are_planted_detractor_themes():
    synth = pytest.importorskip("cjlab.data.synth")
    demo = synth.generate(n_customers=20000, seed=42)
    s = demo.tables["survey_responses"]
    truth = demo.truth["survey"]
    ct = CommentThemes(n_themes=12).fit(
        s["comment"], s["nps"], names=name_list(demo.tables["customers"])
    )
    keys = {t: _canon(k) for t, k in truth["themes"].items()}
    det = set(truth["detractor_themes"])

    def match(top_terms):
        top = set(top_terms.split(", ")[:5])
        return max(keys, key=lambda t: (len(keys[t] & top), t in det))

    pains = [match(t) for t in ct.pain_points()["top_terms"]]
    assert pains and set(pains) <= det
    assert len(set(pains)) >= 3
    others = [match(t) for t in ct.themes_.loc[~ct.themes_["pain_point"], "top_terms"]]
    assert {"quality_praise", "fast_delivery_praise"} <= set(others)
