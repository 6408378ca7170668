"""The `Marquez` component: the platform's lineage store, and its `LineageProducer` side.

Creates the API workload (`apiReplicas`, stateless) with the rendered `marquez.yml` and
its database password as a secret file, and the web UI workload (`webReplicas`) pointed
at the API's in-platform endpoint (`workloads.py`). The API opens only PostgreSQL; the
UI only the API; OpenLineage producers (Trino, Dagster code locations) open the API's
port through the `LineageAccess` they get from `lineage_access`, and only those that
declared `lineage=True` in their requirements. The API's pods wait for exactly their
login and database (`DatabaseAccess.ready`). Options set on the component (protect,
retain_on_delete, providers, aliases) flow to every child.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi

from components.contracts import DatabaseAccess, LineageAccess, Peer
from components.marquez.files import API_PORT
from components.marquez.settings import MarquezSettings
from components.marquez.workloads import (
    api_identity,
    api_workload,
    database_ca_file,
    database_endpoint,
    web_workload,
)
from components.options import flowing_options
from components.runtime.base import Runtime
from components.runtime.stack import StackSettings
from components.runtime.workload import Endpoint


class Marquez(pulumi.ComponentResource):
    """Marquez API and web UI over their own PostgreSQL database; hands out lineage access.

    Implements `LineageProducer` (components/contracts.py).
    """

    endpoint: Endpoint
    """The API's in-platform endpoint (OpenLineage `POST /api/v1/lineage`, REST reads)."""
    web_endpoint: Endpoint
    namespace: str
    """The stack's OpenLineage job namespace (`MarquezSettings.job_namespace`)."""

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: MarquezSettings,
        runtime: Runtime,
        database: DatabaseAccess,
        lineage_consumers: Iterable[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:lineage:Marquez", name, None, flowing_options(opts))
        self._consumers = frozenset(lineage_consumers)
        self.namespace = settings.job_namespace(stack.environment)
        api = runtime.deploy(
            api_workload(
                settings,
                db=database_endpoint(database),
                password=database.password,
                database_peer=database.peer.connection(),
                database_ca=database_ca_file(database),
            ),
            parent=self,
            after=database.ready,
        )
        self.endpoint = api.endpoint("http")
        self._peer = Peer.of(api_identity(settings), API_PORT)
        web = runtime.deploy(
            web_workload(
                settings,
                api_host=runtime.internal_host(api.identity),
                api_peer=self._peer.connection(),
            ),
            parent=self,
        )
        self.web_endpoint = web.endpoint("http")
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "webEndpoint": self.web_endpoint.url,
                "namespace": self.namespace,
                "lineageConsumers": sorted(self._consumers),
            }
        )

    def lineage_access(self, consumer: str) -> LineageAccess:
        """Where `consumer` posts OpenLineage events: the API's port (its NetworkPolicy peer),
        the API's in-platform endpoint and the stack's job namespace. Nothing to wait for:
        producers post on use and retry. KeyError when `consumer` did not require lineage."""
        if consumer not in self._consumers:
            raise KeyError(f"{consumer} did not require lineage (Requirements.lineage)")
        return LineageAccess(peer=self._peer, endpoint=self.endpoint, namespace=self.namespace)
