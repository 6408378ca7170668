#!/usr/bin/env bash
# Installs the Dagster the integration tests run (tests/integration/dagster_server.py) into a
# virtualenv of its own, in a cache outside the checkout that later runs reuse:
#   $DAGSTER_VENV (default ~/.cache/dataplatform/dagster-1.13.27)/bin/
#     dagster, dagster-webserver, dagster-daemon, python
# Why a separate venv: Dagster pins grpcio/protobuf ranges of its own, which must not move the
# project venv's (pulumi talks gRPC too). The tests only start Dagster's executables.
# Why this set: the core and its libraries are released together under different version
# numbers (core 1.13.27 <-> libraries 0.29.27, the newest libraries on PyPI); unpinned, pip
# backtracks for minutes. SQLAlchemy 2.1 makes dagster-postgres load psycopg 3 for
# `postgresql://` URLs, so it stays on the 2.0 line (psycopg2 comes with dagster-postgres).
# Idempotent: exits at once when the venv holds exactly this set.
set -euo pipefail
core=1.13.27
libs=0.29.27
packages=(
  "dagster==$core"
  "dagster-webserver==$core"
  "dagster-postgres==$libs"
  "dagster-k8s==$libs"
  "dagster-docker==$libs"
  "sqlalchemy==2.0.58"
)
cache="${DATAPLATFORM_CACHE:-$HOME/.cache/dataplatform}"
venv="${DAGSTER_VENV:-$cache/dagster-$core}"
stamp="${packages[*]}"

if [ -x "$venv/bin/dagster-daemon" ] && [ -f "$venv/STAMP" ] && grep -qxF "$stamp" "$venv/STAMP"; then
  echo "dagster $core present in $venv"
  exit 0
fi
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "install-dagster: $python is needed" >&2; exit 2; }
mkdir -p "$cache"
rm -rf "$venv"
echo "== dagster $core: creating $venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
echo "== dagster $core: installing ${packages[*]}"
"$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}"
"$venv/bin/pip" check
echo "$stamp" >"$venv/STAMP"
echo "dagster $core installed in $venv"
