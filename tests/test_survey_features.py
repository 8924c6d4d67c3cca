"""The survey aggregations of cjlab.features against plain pandas, with optional columns absent.

The independent plain-pandas references below also serve ``tests/test_portable.py`` (pandas
vs DuckDB) and ``tests/test_spark.py`` (Spark), whose ``CASES`` import them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab import features as ft
from cjlab.features import survey as fs

SCORES = ("nps", "csat", "ces")
CUSTOMER_COLUMNS = ["acquisition_channel", "country"]


# -- independent plain-pandas references --------------------------------------------------------


def ref_survey_scores(
    s: pd.DataFrame, c: pd.DataFrame | None = None, cols: list[str] = ()
) -> pd.DataFrame:
    keep = [x for x in ("response_id", "wave", "customer_id", "respondent_type", *SCORES) if x in s]
    keep += [x for x in s.columns if x.startswith("rating_")]
    out = s[keep].copy()
    out["wave"] = [
        w.strftime("%Y-%m-%d") if isinstance(w, pd.Timestamp) else str(w) for w in out["wave"]
    ]
    for x in out.columns:
        if x in SCORES or x.startswith("rating_"):
            out[x] = out[x].astype(float)
    if "comment" in s:
        txt = s["comment"].astype(object).map(lambda v: v.strip() if isinstance(v, str) else None)
        out["comment"] = txt.where(txt.str.len() > 0, None)
    extra = [x for x in cols if c is not None and x in c and x not in s]
    if extra and "customer_id" in s:
        out = out.merge(c[["customer_id", *extra]], on="customer_id", how="left")
    return out


def ref_survey_cells(s: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    by = [b for b in by if b in s]
    d = s.assign(wave=s["wave"].astype(str))
    cats = {
        "nps": [("promoters", 9, 10), ("passives", 7, 8), ("detractors", 0, 6)],
        "csat": [("top2", 4, 5)],
        "ces": [("low_effort", 5, 7)],
    }
    rows = []
    for key, g in d.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key), responses=len(g))
        for score, cs in cats.items():
            if score not in g:
                continue
            x = g[score].astype(float)
            for name, lo, hi in cs:
                row[f"{score}_{name}"] = int(((x >= lo) & (x <= hi)).sum())
            row[f"{score}_n"], row[f"{score}_sum"] = int(x.notna().sum()), float(x.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def ref_population_counts(
    c: pd.DataFrame, cols: list[str], o: pd.DataFrame | None = None
) -> pd.DataFrame:
    if o is not None:
        c = c[c["customer_id"].isin(o["customer_id"])]
    return c.groupby(cols, dropna=False).size().rename("customers").reset_index()


# -- tests ----------------------------------------------------------------------------------------


def _normalise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = ft.to_pandas(df).copy()
    for c in out.columns:
        if out[c].dtype.kind in "iu" or str(out[c].dtype).startswith(("Int", "UInt")):
            out[c] = out[c].astype(float)
        elif out[c].dtype.kind == "O" or str(out[c].dtype).startswith("string"):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.sort_values(keys).reset_index(drop=True)[sorted(out.columns)]


def _same(a, b, keys):
    pd.testing.assert_frame_equal(_normalise(a, keys), _normalise(b, keys), check_dtype=False)


@pytest.fixture(scope="module")
def demo(small_demo):
    return small_demo.load("survey_responses", "customers", "orders")


OPTIONAL = ["customer_id", "respondent_type", "nps", "csat", "ces", "comment", "rating_delivery"]


@pytest.mark.parametrize(
    "drop",
    [
        [],
        *([c] for c in OPTIONAL),
        ["nps", "csat", "ces"],
        [c for c in OPTIONAL if c != "customer_id"],
    ],
)
def test_survey_scores_and_cells_with_columns_absent(demo, drop):
    s = demo["survey_responses"]
    if "rating_delivery" in drop:
        drop = [*drop, *[c for c in s.columns if c.startswith("rating_")]]
    s = s.drop(columns=drop)
    got = fs.survey_scores(s, demo["customers"], CUSTOMER_COLUMNS)
    _same(got, ref_survey_scores(s, demo["customers"], CUSTOMER_COLUMNS), ["response_id"])
    assert not set(drop) & set(got.columns)
    assert ("country" in got.columns) == ("customer_id" in s.columns)
    by = ["wave", "respondent_type"]
    _same(fs.survey_cells(s, by), ref_survey_cells(s, by), [b for b in by if b in s])


def test_survey_scores_on_duckdb_with_columns_absent(tmp_path, demo):
    """A folder whose survey lacks most optional columns gives the same table on DuckDB."""
    from cjlab.data import open_source

    s = demo["survey_responses"].drop(columns=["respondent_type", "csat", "comment", "rating_app"])
    s.to_parquet(tmp_path / "survey_responses.parquet")
    demo["customers"].to_parquet(tmp_path / "customers.parquet")
    src = open_source(str(tmp_path))
    lazy = fs.survey_scores(src.lazy("survey_responses"), src.lazy("customers"), CUSTOMER_COLUMNS)
    assert not isinstance(lazy, pd.DataFrame)
    _same(
        lazy,
        fs.survey_scores(src.table("survey_responses"), src.table("customers"), CUSTOMER_COLUMNS),
        ["response_id"],
    )
    _same(fs.survey_cells(src.lazy("survey_responses")), ref_survey_cells(s, ["wave"]), ["wave"])


def test_dated_waves_become_iso_labels_and_comments_are_trimmed():
    s = pd.DataFrame(
        {
            "response_id": ["a", "b", "c"],
            "wave": pd.to_datetime(["2025-03-31", "2025-06-30", "2025-03-31"]),
            "nps": [10, np.nan, 3],
            "comment": ["  zu spät ", "   ", None],
        }
    )
    out = fs.survey_scores(s)
    assert out["wave"].tolist() == ["2025-03-31", "2025-06-30", "2025-03-31"]
    assert out["comment"].iloc[0] == "zu spät" and out["comment"].iloc[1:].isna().all()
    cells = fs.survey_cells(s).set_index("wave")
    assert cells.loc["2025-03-31", "nps_n"] == 2 and cells.loc["2025-06-30", "nps_n"] == 0
    assert cells.loc["2025-03-31", ["nps_promoters", "nps_detractors"]].tolist() == [1, 1]


def test_personal_data_are_never_attached(demo):
    with pytest.raises(ValueError, match="personal data"):
        fs.survey_scores(demo["survey_responses"], demo["customers"], ["name"])


def test_population_counts_count_buyers_and_keep_missing_cells(demo):
    c = demo["customers"].copy()
    c.loc[c.index[:7], "country"] = None
    got = fs.population_counts(c, CUSTOMER_COLUMNS, demo["orders"])
    _same(got, ref_population_counts(c, CUSTOMER_COLUMNS, demo["orders"]), CUSTOMER_COLUMNS)
    assert got["customers"].sum() == c["customer_id"].isin(demo["orders"]["customer_id"]).sum()
    assert fs.population_counts(c, ["country"])["customers"].sum() == len(c)
