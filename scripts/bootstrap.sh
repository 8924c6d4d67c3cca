#!/usr/bin/env bash
# Create (or refresh) the project virtual environment in .venv with a Python >= 3.12.
#
# The interpreter is found in this order:
#   1. $CJLAB_PYTHON (an explicit path or command name)
#   2. python3.12, python3.13, python3.14 on PATH (3.12 first: the stack is tested on it)
#   3. pyenv-installed versions (pyenv root or ~/.pyenv/versions/3.1[2-9]*), oldest minor first
#   4. python3 on PATH, if it is new enough
# Usage: scripts/bootstrap.sh [EXTRAS]   e.g. scripts/bootstrap.sh test,lab,spark
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-lab}"
VENV="${CJLAB_VENV:-.venv}"

is_ok() {  # is "$1" a Python >= 3.12?
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
  if [ -n "${CJLAB_PYTHON:-}" ]; then
    if is_ok "$CJLAB_PYTHON"; then echo "$CJLAB_PYTHON"; return 0; fi
    echo "error: CJLAB_PYTHON=$CJLAB_PYTHON is not a Python >= 3.12" >&2; return 1
  fi
  for c in python3.12 python3.13 python3.14; do
    if command -v "$c" >/dev/null 2>&1 && is_ok "$(command -v "$c")"; then command -v "$c"; return 0; fi
  done
  local roots=()
  if command -v pyenv >/dev/null 2>&1; then roots+=("$(pyenv root)/versions"); fi
  roots+=("$HOME/.pyenv/versions")
  for r in "${roots[@]}"; do
    [ -d "$r" ] || continue
    # 3.12 before 3.13 (newest patch first); plain CPython releases only (skip -dev, miniconda, ...)
    for d in $(ls -1 "$r" 2>/dev/null | grep -E '^3\.(1[2-9])\.[0-9]+$' | sort -t. -k1,1n -k2,2n -k3,3nr); do
      if is_ok "$r/$d/bin/python3"; then echo "$r/$d/bin/python3"; return 0; fi
    done
  done
  if command -v python3 >/dev/null 2>&1 && is_ok "$(command -v python3)"; then command -v python3; return 0; fi
  cat >&2 <<'MSG'
error: cjlab needs Python >= 3.12 and none was found.
  Install one (e.g. `pyenv install 3.12`, your OS package manager, or conda with environment.yml)
  or point the setup at it:  CJLAB_PYTHON=/path/to/python3.12 make demo
MSG
  return 1
}

stamp="$VENV/.cjlab-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS"
if [ -x "$VENV/bin/python" ] && is_ok "$VENV/bin/python" && [ -f "$stamp" ] && grep -qxF -- "$want" "$stamp"; then
  exit 0  # up to date
fi
if [ ! -x "$VENV/bin/python" ] || ! is_ok "$VENV/bin/python"; then
  PY="$(find_python)"
  echo "cjlab setup: creating $VENV with $PY ($("$PY" --version 2>&1))"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
echo "cjlab setup: installing cjlab[$EXTRAS] into $VENV (first time takes a few minutes)"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
case ",$EXTRAS," in
  *,test,*|*,bench,*)  # GrowthBook's gbstats pins pandas<2 although it runs on pandas 2: no deps
    "$VENV/bin/python" -m pip install --quiet --no-deps "gbstats==0.8.0" ;;
esac
# A named kernel for JupyterLab ("cjlab"); papermill runs use the venv's own python3 kernel.
"$VENV/bin/python" -m ipykernel install --sys-prefix --name cjlab --display-name "Python (cjlab)" >/dev/null
echo "$want" > "$stamp"
