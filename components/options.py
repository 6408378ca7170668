"""Options that flow from a component to everything declared under it.

Pulumi's SDK hands a component's `providers` and `aliases` to its children through
`parent` (a child's aliases are derived from its parent's), and its `protect` only to
children that set none; `retain_on_delete` reaches no child, and a runtime that renders a
component's workloads sets `protect` itself. `flowing_options` makes the component's
protection reach every descendant whoever declares it, while its `depends_on` stays on
the component: children wait for exactly what they use (docs/architecture.md, the
deploy graph). Follows https://www.pulumi.com/docs/iac/concepts/resources/options/parent/
and the `transformations` option of the same page set.
"""

from __future__ import annotations

import pulumi


def flowing_options(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The component's own `opts`, plus a transformation that turns on `protect` and
    `retain_on_delete` in every descendant when the component has them on.

    A descendant's own `True` is never turned off (a runtime protects prod volumes
    whatever the component says); nothing else of a descendant's options changes.
    """
    opts = opts or pulumi.ResourceOptions()
    flowing = pulumi.ResourceOptions(
        protect=True if opts.protect else None,
        retain_on_delete=True if opts.retain_on_delete else None,
    )
    if flowing.protect is None and flowing.retain_on_delete is None:
        return opts

    def merge_into(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult:
        return pulumi.ResourceTransformationResult(
            props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, flowing)
        )

    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[merge_into]))
