"""What consumers verify the PostgreSQL server against (`DatabaseAccess.ca_certificate`).

The generated certificate is self-signed: it is its own trust anchor. A certificate from
stack config is its own anchor too, unless `tls.caConfigKey` names the CA that issued it
(libpq's `sslrootcert` must hold the root of the chain). Without TLS there is nothing to
verify: None, and consumers connect with `sslmode=disable`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from components.contracts import DatabaseAccess, DatabaseNeed, Peer, Requirements
from components.postgres import Postgres, PostgresSettings
from components.postgres.server_config import TlsSettings
from components.runtime.kubernetes import KubernetesRuntime, KubernetesSettings
from components.runtime.stack import StackSettings, Target, Tier
from components.runtime.workload import Endpoint, WorkloadIdentity
from components.tier_defaults import merged
from ops.render import render_program
from tests.unit.test_postgres_options import SECTION

CONFIG = {
    "data-platform:pgCert": "-----BEGIN CERTIFICATE----- leaf",
    "data-platform:pgKey": "-----BEGIN PRIVATE KEY----- key",
    "data-platform:pgCa": "-----BEGIN CERTIFICATE----- issuing CA",
}


def _anchor(tls: dict[str, Any]) -> str | None:
    """The `ca_certificate` a consumer of the test-tier server gets, resolved."""
    seen: dict[str, str | None] = {}

    def program() -> None:
        stack = StackSettings(
            environment="test",
            tier=Tier.TEST,
            target=Target.KUBERNETES,
            prefix="dp-test",
            owner="team",
            cost_center="cc-1",
        )
        settings = PostgresSettings.model_validate(
            merged(PostgresSettings.tier_defaults(Tier.TEST), {**SECTION, "tls": tls})
        )
        runtime = KubernetesRuntime(
            "rt", stack=stack, settings=KubernetesSettings(admin_cidrs=("10.0.0.0/24",))
        )
        server = Postgres(
            "dp-test-postgres",
            stack=stack,
            settings=settings,
            runtime=runtime,
            admin=None,
            requirements=[
                Requirements(consumer="marquez", databases=(DatabaseNeed(database="marquez"),))
            ],
        )
        access = server.database_access("marquez", database="marquez", login="marquez")
        seen["sslmode"] = access.ssl_params("/ca.pem")["sslmode"]
        if access.ca_certificate is None:
            seen["anchor"] = None
        else:
            access.ca_certificate.apply(lambda pem: seen.update(anchor=pem))

    render_program(program, stack="test", config=CONFIG, secret_keys=sorted(CONFIG))
    assert seen["sslmode"] == ("verify-full" if seen["anchor"] else "disable")
    return seen["anchor"]


def test_a_generated_certificate_is_its_own_anchor() -> None:
    assert _anchor({}) == "mock-certificate-dp-test-postgres-tls-cert"


def test_a_configured_certificate_without_a_ca_is_its_own_anchor() -> None:
    tls = {"certificate": "configured", "certConfigKey": "pgCert", "keyConfigKey": "pgKey"}
    assert _anchor(tls) == CONFIG["data-platform:pgCert"]


def test_a_configured_ca_is_the_anchor_of_a_configured_leaf() -> None:
    tls = {
        "certificate": "configured",
        "certConfigKey": "pgCert",
        "keyConfigKey": "pgKey",
        "caConfigKey": "pgCa",
    }
    assert _anchor(tls) == CONFIG["data-platform:pgCa"]


def test_without_tls_there_is_no_anchor_and_no_tls() -> None:
    assert _anchor({"required": False}) is None


def test_a_ca_key_without_a_configured_certificate_is_refused() -> None:
    with pytest.raises(ValidationError, match="caConfigKey are only used with"):
        TlsSettings.model_validate({"caConfigKey": "pgCa"})


def test_a_tls_server_must_hand_consumers_a_certificate() -> None:
    """A consumer of a TLS server without its certificate could only encrypt, never verify."""
    identity = WorkloadIdentity(service="postgres", component="server", version="15")
    with pytest.raises(ValueError, match="must hand consumers its CA certificate"):
        DatabaseAccess(
            peer=Peer.of(identity, 5432),
            endpoint=Endpoint(host="postgres-server", port=5432),
            database="marquez",
            user="marquez",
            password=pulumi.Output.from_input("x"),
            require_tls=True,
            ready=(),
        )
