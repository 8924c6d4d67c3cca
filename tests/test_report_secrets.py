"""Secrets are masked in messages, records and executed notebooks (cjlab.report.secrets)."""

from __future__ import annotations

import nbformat
import pytest

from cjlab.report.secrets import MASK, mask_notebook, mask_parameters, mask_text


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "postgresql://admin:PASSWORD@db.example.org:5432/shop",
            "postgresql://admin:***@db.example.org:5432/shop",
        ),
        (
            "data source 'mysql+pymysql://u:p%40ss@h/db' not found",
            "data source 'mysql+pymysql://u:***@h/db' not found",
        ),
        ("Server=db;User Id=app;Password=hunter2;", "Server=db;User Id=app;Password=***;"),
        ("host=db password='hunter 2' port=1", "host=db password='***' port=1"),
        ("?user=a&password=xyz&ssl=1", "?user=a&password=***&ssl=1"),
        ("api_key=abc123", "api_key=***"),
        ("api_key: expected str", "api_key: expected str"),  # our own messages stay readable
        ("postgresql://admin@db/shop", "postgresql://admin@db/shop"),  # no password: unchanged
        ("a folder data/acme", "a folder data/acme"),
    ],
)
def test_connection_string_passwords_are_masked(text, expected):
    assert mask_text(text) == expected
    assert "PASSWORD" not in mask_text(text) and "hunter2" not in mask_text(text)


def test_secret_values_are_masked_wherever_they_appear_but_short_ones_are_not_words():
    assert mask_text("the key tok-123456 failed", ["tok-123456"]) == "the key *** failed"
    assert mask_text("a b c", ["a"]) == "a b c"  # too short to replace in text
    assert mask_text(None) is None and mask_text(5) == 5


def test_parameters_for_records():
    params = {
        "api_key": "tok-123456",
        "empty_token": "",
        "data_source": "postgresql://u:pw123@h/db",
        "top_n": 5,
        "labels": ["see tok-123456"],
    }
    masked = mask_parameters(params, ["api_key", "empty_token"])
    assert masked == {
        "api_key": MASK,
        "empty_token": "",  # nothing to hide: the reader sees it was not set
        "data_source": "postgresql://u:***@h/db",
        "top_n": 5,
        "labels": ["see ***"],
    }


def test_an_executed_notebook_is_masked_in_the_injected_cell_metadata_and_outputs():
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"api_key": "tok-123456", "top_n": 5}}
    injected = nbformat.v4.new_code_cell('# Parameters\napi_key = "tok-123456"\ntop_n = 5\n')
    injected.metadata["tags"] = ["injected-parameters"]
    out = nbformat.v4.new_code_cell("print(api_key)")
    out.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="key tok-123456\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>tok-123456</b>"}),
        nbformat.v4.new_output(
            "error", ename="ValueError", evalue="bad tok-123456", traceback=["tok-123456"]
        ),
    ]
    nb.cells = [injected, out]
    assert mask_notebook(nb, ["api_key"], {"api_key": "tok-123456", "top_n": 5}) > 0
    text = nbformat.writes(nb)
    assert "tok-123456" not in text
    assert 'api_key = "***"' in nb.cells[0].source and "top_n = 5" in nb.cells[0].source
    assert nb.metadata["papermill"]["parameters"] == {"api_key": MASK, "top_n": 5}
    assert mask_notebook(nb, ["api_key"], {"api_key": "tok-123456"}) == 0  # idempotent
