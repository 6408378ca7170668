#!/usr/bin/env bash
# Fetches the Trino server the integration tests run (tests/integration/trino_server.py) from
# Maven Central into a cache outside the checkout that later runs reuse:
#   $TRINO_HOME (default ~/.cache/dataplatform/trino-476)/
#     lib/      the server class path (main class io.trino.server.TrinoServer)
#     plugin/   iceberg, memory, postgresql, password-authenticators, geospatial (the PostgreSQL
#               connector needs its Geometry type), openlineage, kafka, kafka-event-listener
#     VERSION   what was unpacked
# Why 476 and not 483 (what the stacks deploy): since 477 the server tarball and plugin
# archives are not published; 483's trino-main, trino-iceberg and trino-memory jars are, but
# trino-postgresql, trino-password-authenticators and trino-server-main are not (the newest
# served is 449, 476 inside the tarball), and the 476 PostgreSQL connector refuses a 483 SPI
# (strict SPI version check), so the warehouse catalog cannot run on an assembled 483.
# docs/trino.md has the details.
# Idempotent: exits at once when the unpacked server is there. Needs Maven.
set -euo pipefail
version=476
plugins=(iceberg memory postgresql password-authenticators geospatial openlineage kafka kafka-event-listener)
cache="${DATAPLATFORM_CACHE:-$HOME/.cache/dataplatform}"
home="${TRINO_HOME:-$cache/trino-$version}"
stamp="version=$version plugins=${plugins[*]}"

if [ -f "$home/VERSION" ] && grep -qxF "$stamp" "$home/VERSION"; then
  echo "trino $version present in $home"
  exit 0
fi
command -v mvn >/dev/null || { echo "install-trino: Maven (mvn) is needed" >&2; exit 2; }
repo="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
mkdir -p "$cache"
work="$(mktemp -d "$cache/trino-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== trino $version: fetching io.trino:trino-server:$version:tar.gz"
mvn -B -q -Dmaven.repo.local="$repo" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
  -Dartifact="io.trino:trino-server:$version:tar.gz" -Dtransitive=false
tarball="$repo/io/trino/trino-server/$version/trino-server-$version.tar.gz"

echo "== trino $version: unpacking lib/ and plugins ${plugins[*]}"
# The tarball stores repeated jars as hard links across directories: unpack it whole.
tar -xzf "$tarball" -C "$work"
unpacked="$work/trino-server-$version"
staging="$work/trino"
mkdir -p "$staging/plugin"
mv "$unpacked/lib" "$staging/lib"
for plugin in "${plugins[@]}"; do
  mv "$unpacked/plugin/$plugin" "$staging/plugin/$plugin"
done
echo "$stamp" >"$staging/VERSION"
rm -rf "$home"
mv "$staging" "$home"
echo "trino $version unpacked in $home"
