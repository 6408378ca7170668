"""The deploy graph of a render: how long the longest chain `pulumi up` must wait through is.

Pulumi creates a resource once everything it depends on exists: its explicit `depends_on`
(a component there stands for every resource under it; the SDK expands it before it
registers), the resources whose outputs feed its inputs, its explicit provider, and what
its ancestor components wait for (a child registers only once its parent has, and a
component's registration waits for the component's own dependencies).
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


def _waits_for(resource: Resource, everything: Mapping[str, Resource]) -> set[str]:
    """URNs `resource` waits for before it is created: its own and its ancestors' edges."""
    urns: set[str] = set()
    current: Resource | None = resource
    while current is not None:
        urns.update(current.get("dependencies", ()))
        urns.update(current.get("options", {}).get("depends_on", ()))
        if current is resource and current.get("provider"):
            urns.add(current["provider"])
        parent = current.get("parent")
        current = everything.get(parent) if parent else None
    return urns


def longest_chain(resources: Sequence[Resource]) -> list[str]:
    """The longest chain of custom resources, first-created first, as names.

    Input: the `resources` list of a render (`dataplatform render --out`). Components
    take no time to create and are not counted. Raises ValueError on a cycle.
    """
    everything = {r["urn"]: r for r in resources}
    known = {urn: r for urn, r in everything.items() if r.get("custom")}
    chains: dict[str, list[str]] = {}
    visiting: set[str] = set()

    def chain(urn: str) -> list[str]:
        if urn in chains:
            return chains[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}")
        visiting.add(urn)
        waits = sorted(u for u in _waits_for(known[urn], everything) if u in known and u != urn)
        before = max((chain(dep) for dep in waits), key=len, default=[])
        visiting.discard(urn)
        chains[urn] = [*before, known[urn]["name"]]
        return chains[urn]

    return max((chain(urn) for urn in sorted(known)), key=len, default=[])


def deploy_depth(resources: Sequence[Resource]) -> int:
    """How deep the deploy graph is: the edges of `longest_chain` (0 for one resource)."""
    return max(len(longest_chain(resources)) - 1, 0)
