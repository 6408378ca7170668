"""Benchmark `make bench`: whole-process timings in paired runs, and the deploy graph depth.

Targets (DEVELOPERS.md), each for prod:
- an offline render (`dataplatform render prod`) within 1.5x a bare import of the
  provider SDKs it uses (a fresh interpreter each);
- a policy check (`dataplatform check prod`) within 1.2x the render;
- a deploy graph at most 6 deep (`pulumi up` waits on its longest chain; depth counts
  edges, see ops/deploy_graph.py).

Paired runs: each round runs the baseline and the measured command back to back, so a
slow moment of the machine hits both; the verdict uses the median of the per-round ratios.
Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ops.deploy_graph import deploy_depth, longest_chain

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "ops.cli"]
# pulumi_kubernetes loads each API group lazily on first attribute access, so the import
# names the groups the program uses; otherwise their import would count as render.
IMPORTS = "; ".join(
    [
        "import pulumi, pulumi_docker, pulumi_kafka, pulumi_minio, pulumi_postgresql, pulumi_random",
        "import pulumi_tls",
        "import pulumi_kubernetes.core.v1, pulumi_kubernetes.apps.v1, pulumi_kubernetes.meta.v1",
        "import pulumi_kubernetes.networking.v1, pulumi_kubernetes.policy.v1",
        "import pulumi_kubernetes.batch.v1, pulumi_kubernetes.rbac.v1",
    ]
)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The commands' environment: Python may write bytecode, as on a user's machine (the first,
unmeasured run of each command writes it; a shell with PYTHONDONTWRITEBYTECODE set would
otherwise recompile the project's modules in every measured run, but not the SDK's)."""
ROUNDS = 5
RENDER_TARGET = 1.5
CHECK_TARGET = 1.2
DEPTH_TARGET = 6


def _seconds(command: list[str]) -> float:
    """Wall time of one whole process, output discarded.

    Exit status 0 or 1 (a check that found violations) is a valid run; anything else
    (a crash, a usage error) raises CalledProcessError.
    """
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, check=False)
    if done.returncode not in (0, 1):
        raise subprocess.CalledProcessError(done.returncode, command)
    return time.perf_counter() - start


def paired_ratio(baseline: list[str], measured: list[str]) -> tuple[float, float, float]:
    """Median baseline seconds, median measured seconds, median per-round ratio."""
    _seconds(baseline), _seconds(measured)  # warm the page cache and .pyc files
    rounds = [(_seconds(baseline), _seconds(measured)) for _ in range(ROUNDS)]
    return (
        statistics.median(b for b, _ in rounds),
        statistics.median(m for _, m in rounds),
        statistics.median(m / b for b, m in rounds),
    )


def _line(name: str, base: float, measured: float, ratio: float, target: float) -> bool:
    met = ratio <= target
    print(
        f"{name:28} {base:7.3f} s -> {measured:7.3f} s  ratio {ratio:5.2f} "
        f"(target <= {target}): {'met' if met else 'MISSED'}"
    )
    return met


def main() -> int:
    """Print each measurement with its target; non-zero if any target is missed."""
    imports = [sys.executable, "-c", IMPORTS]
    render = [*CLI, "render", "prod", "--json"]
    check = [*CLI, "check", "prod"]
    ok = _line("render prod / SDK import", *paired_ratio(imports, render), RENDER_TARGET)
    ok &= _line("check prod / render prod", *paired_ratio(render, check), CHECK_TARGET)
    output = subprocess.run(render, cwd=ROOT, capture_output=True, text=True, check=True)
    resources = json.loads(output.stdout)["resources"]
    chain, depth = longest_chain(resources), deploy_depth(resources)
    depth_met = depth <= DEPTH_TARGET
    print(
        f"{'prod deploy graph depth':28} {depth} (target <= {DEPTH_TARGET}): "
        f"{'met' if depth_met else 'MISSED'}\n  longest chain: {' -> '.join(chain)}"
    )
    return 0 if ok and depth_met else 1


if __name__ == "__main__":
    sys.exit(main())
