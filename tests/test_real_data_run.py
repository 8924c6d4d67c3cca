"""From raw file to reports: each public dataset goes through its shipped mapping (`cjlab import`)
and `cjlab run --all`; every notebook completes or is marked not applicable, and no report shows a
traceback. The same for a company that has only customers and orders (the demo, other tables
dropped). Slow: one kernel per applicable notebook and data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cjlab.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ISSUE_11 = {
    "00_data_overview",
    "01_survey",
    "02_ab_test",
    "03_churn",
    "04_segmentation",
    "05_journey",
}
#: data set -> (raw file, notebooks expected to complete; the others must be not applicable)
DATASETS = {
    "online_retail": (
        "online_retail_sample40k.csv",
        {"00_data_overview", "03_churn", "04_segmentation"},
    ),
    "telco": ("telco_churn_ibm.csv", {"00_data_overview", "03_churn"}),
    "hillstrom": ("hillstrom.csv", {"00_data_overview", "02_ab_test"}),
}


def _run_all(folder: Path, reports: Path, name: str, capsys) -> dict:
    code = main(
        [
            "run",
            "--all",
            "--data",
            str(folder),
            "--reports-dir",
            str(reports),
            "--name",
            name,
            "--no-progress",
        ]
    )
    out = capsys.readouterr()
    manifest = json.loads(next(reports.glob(f"*/{name}/manifest.json")).read_text())
    statuses = {nb["notebook"]: nb["status"] for nb in manifest["notebooks"]}
    assert code == 0, f"cjlab run exited {code}: {statuses}\n{out.out}\n{out.err[-3000:]}"
    run = next(reports.glob(f"*/{name}"))
    for nb in manifest["notebooks"]:
        if nb["status"] == "completed":
            html = (run / nb["html"]).read_text(encoding="utf-8")
            assert "Traceback" not in html and 'class="cj-incomplete' not in html, nb["notebook"]
        else:
            assert nb["status"] == "not applicable" and nb["reason"], nb
    return statuses


def _check(statuses: dict, expected_completed: set[str]) -> None:
    """Every notebook ran or was not applicable (checked in _run_all); of the six analyses of
    issue 11 exactly ``expected_completed`` completed (notebooks added later may apply or not)."""
    assert ISSUE_11 <= set(statuses)  # --all ran them (and any notebook added since)
    completed = {n for n, s in statuses.items() if s == "completed" and n in ISSUE_11}
    assert completed == expected_completed, statuses


@pytest.mark.shared_data
@pytest.mark.parametrize("name", list(DATASETS))
def test_public_dataset_from_raw_file_to_reports(tmp_path, shared_data, capsys, name):
    file, expected = DATASETS[name]
    folder = tmp_path / name
    assert (
        main(
            [
                "import",
                str(ROOT / "params" / "mappings" / f"{name}.yaml"),
                "--input",
                str(shared_data / file),
                "--out",
                str(folder),
            ]
        )
        == 0
    )
    capsys.readouterr()
    _check(_run_all(folder, tmp_path / "reports", name, capsys), expected)


def test_a_company_with_only_customers_and_orders(tmp_path, small_demo, capsys):
    folder = tmp_path / "shop"
    folder.mkdir()
    for table, df in small_demo.load("customers", "orders").items():
        df.to_parquet(folder / f"{table}.parquet")
    _check(
        _run_all(folder, tmp_path / "reports", "shop", capsys),
        {"00_data_overview", "03_churn", "04_segmentation"},
    )
