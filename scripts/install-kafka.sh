#!/usr/bin/env bash
# Fetches the Kafka broker the integration tests run (tests/integration/kafka_server.py) from
# Maven Central into a cache outside the checkout that later runs reuse:
#   $KAFKA_HOME (default ~/.cache/dataplatform/kafka-<version>)/
#     libs/     the class path: org.apache.kafka:kafka_2.13 (main class kafka.Kafka) and
#               org.apache.kafka:kafka-tools (org.apache.kafka.tools.*) with their runtime
#               dependencies, as `mvn dependency:copy-dependencies` resolves them, plus
#               log4j's binding for SLF4J 1.7 (the distribution ships it; the poms leave it
#               out, and without it the broker logs nothing)
#     VERSION   what was fetched
# The version MUST equal the tag of the apache/kafka image the stacks pin
# (components/kafka/settings.py KAFKA_VERSION); tests/unit/test_kafka_settings.py checks it.
# Idempotent: exits at once when the class path is there. Needs Maven; reuses ~/.m2.
set -euo pipefail
version=4.3.1
cache="${DATAPLATFORM_CACHE:-$HOME/.cache/dataplatform}"
home="${KAFKA_HOME:-$cache/kafka-$version}"
log4j=2.25.4  # the log4j-api that kafka_2.13 $version depends on
stamp="version=$version artifacts=kafka_2.13,kafka-tools,log4j-slf4j-impl-$log4j"

if [ -f "$home/VERSION" ] && grep -qxF "$stamp" "$home/VERSION"; then
  echo "kafka $version present in $home"
  exit 0
fi
command -v mvn >/dev/null || { echo "install-kafka: Maven (mvn) is needed" >&2; exit 2; }
repo="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
mkdir -p "$cache"
work="$(mktemp -d "$cache/kafka-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# A throwaway pom whose only job is to name the artifacts; Maven resolves the rest.
cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dataplatform.local</groupId>
  <artifactId>kafka-classpath</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$log4j</version>
    </dependency>
  </dependencies>
</project>
EOF

echo "== kafka $version: resolving kafka_2.13 and kafka-tools with their runtime dependencies"
mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$repo" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$work/kafka/libs"
echo "$stamp" >"$work/kafka/VERSION"
rm -rf "$home"
mv "$work/kafka" "$home"
echo "kafka $version: $(ls "$home/libs" | wc -l) jars, $(du -sh "$home/libs" | cut -f1) in $home/libs"
