#!/usr/bin/env bash
# Run checkov (pinned, in its own virtualenv) over the Kubernetes manifests of every
# Kubernetes stack and fail on any finding not accepted in docs/checkov-accepted.md.
# Usage: scripts/checkov.sh [STACK...]   (default: test prod)
# The virtualenv lives outside the checkout (CHECKOV_VENV, default
# ~/.cache/dataplatform/checkov-venv) and is reused by later runs; checkov's pins clash
# with Pulumi's, so it never goes into .venv. Offline: --skip-download, no API key.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
VENV="${CHECKOV_VENV:-$HOME/.cache/dataplatform/checkov-venv}"
PYTHON="${PYTHON:-python3}"
PROJECT_PY=".venv/bin/python"
ACCEPTED="docs/checkov-accepted.md"
stacks=("$@")
[ ${#stacks[@]} -eq 0 ] && stacks=(test prod)

if [ "$("$VENV/bin/checkov" --version 2>/dev/null || true)" != "$CHECKOV_VERSION" ]; then
  echo "== installing checkov $CHECKOV_VERSION into $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi

skip="$("$PROJECT_PY" scripts/checkov_findings.py skip-list "$ACCEPTED")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for stack in "${stacks[@]}"; do
  echo "== checkov $CHECKOV_VERSION: $stack (skipping accepted everywhere: ${skip:-none})"
  .venv/bin/dataplatform render "$stack" --manifests "$work/$stack" >/dev/null
  # checkov exits 1 when a check fails; the accepted list decides, so ignore its status.
  BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --directory "$work/$stack" \
    --framework kubernetes secrets --skip-download --quiet --compact -o json \
    ${skip:+--skip-check "$skip"} >"$work/$stack.json" 2>"$work/$stack.err" || true
  if ! "$PROJECT_PY" scripts/checkov_findings.py judge "$ACCEPTED" "$work/$stack.json"; then
    status=1
    tail -5 "$work/$stack.err" >&2 || true
  else
    echo "   no finding outside $ACCEPTED"
  fi
done
exit "$status"
