# Shared by scripts/bootstrap.sh and scripts/uv.sh: find a Python >= 3.12 and the pinned uv.
#
# The interpreter is found in this order:
#   1. $CJLAB_PYTHON (an explicit path or command name)
#   2. python3.12, python3.13, python3.14 on PATH (3.12 first: the stack is tested on it)
#   3. pyenv-installed versions (pyenv root or ~/.pyenv/versions/3.1[2-9]*), oldest minor first
#   4. python3 on PATH, if it is new enough
UV_VERSION="0.13.9"
TOOLS=".tools/uv-$UV_VERSION"
export UV_PYTHON_DOWNLOADS=never

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

ensure_uv() {  # install the pinned uv into .tools/ once (with pip); print its path
  if [ ! -x "$TOOLS/bin/uv" ]; then
    echo "cjlab setup: installing the installer (uv $UV_VERSION) into $TOOLS" >&2
    rm -rf "$TOOLS"
    "$(find_python)" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
  fi
  echo "$TOOLS/bin/uv"
}
