"""The deploy graph of a render: how long the longest chain `pulumi up` must wait through is.

Pulumi creates a resource once everything it depends on exists: its explicit `depends_on`
(a component there stands for every resource under it; the SDK expands it before it
registers), the resources whose outputs feed its inputs, and its explicit provider.
`pulumi up` therefore takes at least as long as the longest such chain; the platform keeps
that chain short (a prod deploy graph at most 6 deep).

Depth counts as in a tree: a resource that waits for nothing is at depth 0, and each
resource is one deeper than the deepest resource it waits for; the graph's depth is the
deepest resource's. Providers count (the engine configures them as steps of the graph);
components do not (they are created instantly).
https://www.pulumi.com/docs/iac/concepts/options/dependson/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Resource = Mapping[str, Any]


def _waits_for(resource: Resource, known: Mapping[str, Resource]) -> list[str]:
    """URNs of the custom resources `resource` waits for before it is created."""
    urns = [*resource.get("dependencies", ()), *resource.get("options", {}).get("depends_on", ())]
    provider = resource.get("provider")
    if provider:
        urns.append(provider)
    return sorted({urn for urn in urns if urn in known and urn != resource["urn"]})


def longest_chain(resources: Sequence[Resource]) -> list[str]:
    """The longest chain of custom resources, first-created first, as names.

    Input: the `resources` list of a render (`dataplatform render --out`). Components
    take no time to create and are not counted. Raises ValueError on a cycle.
    """
    known = {r["urn"]: r for r in resources if r.get("custom")}
    chains: dict[str, list[str]] = {}
    visiting: set[str] = set()

    def chain(urn: str) -> list[str]:
        if urn in chains:
            return chains[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}")
        visiting.add(urn)
        before = max((chain(dep) for dep in _waits_for(known[urn], known)), key=len, default=[])
        visiting.discard(urn)
        chains[urn] = [*before, known[urn]["name"]]
        return chains[urn]

    return max((chain(urn) for urn in sorted(known)), key=len, default=[])


def deploy_depth(resources: Sequence[Resource]) -> int:
    """How deep the deploy graph is: the edges of `longest_chain` (0 for one resource)."""
    return max(len(longest_chain(resources)) - 1, 0)
