"""A tiny user-code location for the Dagster integration tests: one asset, one job.

Loaded by `dagster api grpc --module-name dagster_user_code` from Dagster's own venv
(scripts/install-dagster.sh), never imported by the project's tests.
"""

from dagster import Definitions, asset, define_asset_job  # pyright: ignore[reportMissingImports]


@asset
def greeting() -> str:
    """A constant, so a run's success depends only on the platform around it."""
    return "hello from the data platform"


smoke_job = define_asset_job("smoke_job", selection=[greeting])

defs = Definitions(assets=[greeting], jobs=[smoke_job])
