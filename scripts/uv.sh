#!/usr/bin/env bash
# The project's pinned uv (installed into .tools/ on first use): scripts/uv.sh lock, scripts/uv.sh export ...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
UV="$(ensure_uv)"
exec "$UV" "$@"
