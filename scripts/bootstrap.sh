#!/usr/bin/env bash
# Create (or refresh) the project virtual environment in .venv from the lock file (uv.lock).
#
# Every dependency is installed at the exact version (and hash) recorded in uv.lock, so a fresh
# machine gets what CI tested. The installer is uv (pinned below; installed once into .tools/
# with pip): on this project it installs the locked stack in about 1 minute from an empty cache
# and in seconds from a warm one, against about 2 minutes for pip with a warm cache
# (benchmarks/RESULTS.md, "Installation").
# The interpreter: see scripts/common.sh ($CJLAB_PYTHON, python3.12/3.13/3.14, pyenv, python3).
# Usage: scripts/bootstrap.sh [EXTRAS]   e.g. scripts/bootstrap.sh test,lab,spark
# Refresh the lock after changing dependencies in pyproject.toml: `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-lab}"
VENV="${CJLAB_VENV:-.venv}"
export UV_PROJECT_ENVIRONMENT="$VENV"
. scripts/common.sh

stamp="$VENV/.cjlab-installed"
want="$(cat uv.lock pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS-pyc"
if [ -x "$VENV/bin/python" ] && is_ok "$VENV/bin/python" && [ -f "$stamp" ] && grep -qxF -- "$want" "$stamp"; then
  exit 0  # up to date
fi
t0=$(date +%s)
if [ -x "$VENV/bin/python" ] && is_ok "$VENV/bin/python"; then
  PY="$VENV/bin/python"
else
  PY="$(find_python)"
  rm -rf "$VENV"
fi
UV="$(ensure_uv)"
args=()
IFS=',' read -ra parts <<< "$EXTRAS"
for e in "${parts[@]}"; do [ -n "$e" ] && args+=(--extra "$e"); done
echo "cjlab setup: installing cjlab[$EXTRAS] into $VENV from uv.lock ($("$PY" --version 2>&1))"
# --locked: stop when uv.lock does not match pyproject.toml (run `make lock`).
# --compile-bytecode: write the .pyc files at install time, as pip does and uv does not by
# default. Without them (and with PYTHONDONTWRITEBYTECODE=1, as on this project's machines)
# every process compiles each module it imports: `import pymc` took 5.3 s instead of 1.3 s,
# pandas 2.0 s instead of 0.7 s (benchmarks/RESULTS.md, "Installation").
"$UV" sync --locked --quiet --compile-bytecode --python "$PY" "${args[@]}"
case ",$EXTRAS," in
  *,test,*|*,bench,*)  # GrowthBook's gbstats pins pandas<2 although it runs on pandas 2: a benchmark peer only
    "$UV" pip install --quiet --compile-bytecode --python "$VENV/bin/python" --no-deps "gbstats==0.8.0" ;;
esac
# A named kernel for JupyterLab ("cjlab"); papermill runs use the venv's own python3 kernel.
"$VENV/bin/python" -m ipykernel install --sys-prefix --name cjlab --display-name "Python (cjlab)" >/dev/null
# cjlab's own modules too (a later edit only makes its .pyc stale: Python then compiles that one)
"$VENV/bin/python" -m compileall -q cjlab >/dev/null || true
echo "$want" > "$stamp"
echo "cjlab setup: done in $(( $(date +%s) - t0 )) s"
