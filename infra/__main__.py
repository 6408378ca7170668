"""Entry point Pulumi runs for every stack (`main: infra/` in Pulumi.yaml)."""

from infra.program import run

run()
