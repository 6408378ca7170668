#!/usr/bin/env bash
# Debian packages the integration tests need: a real PostgreSQL 15 with pgaudit.
# Idempotent; needs root (or sudo). Skips apt when everything is already there.
set -euo pipefail
# Trino for the integration tests (Maven Central, cached outside the checkout; instant
# when cached; docs/trino.md).
"$(dirname "$0")/install-trino.sh"
"$(dirname "$0")/install-kafka.sh"  # Kafka jars from Maven Central (before the early exit below)
"$(dirname "$0")/install-dagster.sh"  # Dagster in its own venv under ~/.cache (before the early exit below)
packages=(postgresql-15 postgresql-15-pgaudit)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages present: ${packages[*]}"; exit 0; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian package starts a cluster of its own; the tests start throwaway ones instead.
$sudo pg_ctlcluster 15 main stop 2>/dev/null || true
