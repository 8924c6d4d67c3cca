"""Spark session helper: Java detection and clear errors (no Spark started; fast)."""

from __future__ import annotations

import os
import stat

import pytest

from cjlab.data import open_source
from cjlab.data.source import DataSourceError
from cjlab.data.spark import SparkUnavailableError, check_java, java_version


def _fake_java(tmp_path, banner: str):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    exe = home / "bin" / "java"
    exe.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return home


@pytest.mark.parametrize(("banner", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_381"', 8),
    ('openjdk version "11.0.2" 2019-01-15', 11),
])
def test_java_version_parses_real_banners(tmp_path, monkeypatch, banner, major):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, banner)))
    assert java_version() == major


def test_old_java_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "11.0.2" 2019-01-15')))
    with pytest.raises(SparkUnavailableError, match=r"Java 17 or newer, found Java 11"):
        check_java()


def test_missing_java_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match="no java was found"):
        check_java()


def test_spark_spec_with_missing_folder_names_it(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataSourceError, match="no-such-folder"):
        open_source(f"spark:{missing}")
    assert not os.path.exists(missing)


def test_spark_source_validates_without_starting_spark(small_demo):
    """Opening, validating and describing a spark: source (what `cjlab run` does first) needs no JVM."""
    src = open_source(f"spark:{small_demo.location}")
    assert src.kind == "spark" and src.spark is None
    assert src.validate(raise_errors=False).ok
    assert src.describe()["tables"] == small_demo.row_counts()
    assert src.spark is None and src.spark_frames == {}
