"""Benchmark: time to import the provider SDKs vs time to render each stack offline.

Run `make bench`. Each measurement runs in a fresh interpreter so imports are cold for
the import figure and warm (already imported) for the render figure. Target: the prod
render takes at most 2x the import time.
"""

from __future__ import annotations

import json
import subprocess
import sys

# pulumi_kubernetes loads each API group lazily on first attribute access, so the import
# figure names the groups the program uses; otherwise their import would count as render.
IMPORTS = "; ".join(
    [
        "import pulumi, pulumi_docker, pulumi_minio, pulumi_postgresql, pulumi_random, pulumi_tls",
        "import pulumi_kubernetes.core.v1, pulumi_kubernetes.apps.v1, pulumi_kubernetes.meta.v1",
        "import pulumi_kubernetes.networking.v1, pulumi_kubernetes.policy.v1",
    ]
)
STACKS = ("dev", "test", "prod")
RUNS = 3

_MEASURE = """
import json, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
from infra.render import render_stack
render = render_stack({stack!r})
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "render": t2 - t1, "resources": len(render.resources)}}))
"""


def measure(stack: str) -> dict[str, float]:
    """Best of RUNS fresh-interpreter runs: import seconds, render seconds, resource count."""
    results = []
    for _ in range(RUNS):
        code = _MEASURE.format(imports=IMPORTS, stack=stack)
        output = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return {
        "import": min(r["import"] for r in results),
        "render": min(r["render"] for r in results),
        "resources": results[0]["resources"],
    }


def main() -> int:
    """Print one line per stack and the prod verdict."""
    print(f"{'stack':6} {'resources':>9} {'import s':>9} {'render s':>9} {'ratio':>6}")
    verdict = 0
    for stack in STACKS:
        m = measure(stack)
        ratio = m["render"] / m["import"]
        print(f"{stack:6} {m['resources']:9d} {m['import']:9.3f} {m['render']:9.3f} {ratio:6.2f}")
        if stack == "prod":
            verdict = 0 if ratio <= 2 else 1
            print(
                f"prod render / import = {ratio:.2f} (target <= 2): {'met' if verdict == 0 else 'MISSED'}"
            )
    return verdict


if __name__ == "__main__":
    sys.exit(main())
