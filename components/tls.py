"""Server certificates for services that require TLS: supplied by stack config or generated.

A generated certificate is self-signed (pulumi-tls `PrivateKey` + `SelfSignedCert`) for
the service's in-platform host names; the key stays a secret Output end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

VALIDITY_HOURS = 24 * 365
RENEW_BEFORE_HOURS = 24 * 30


@dataclass(frozen=True)
class ServerCertificate:
    """A PEM certificate and its private key (secret)."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]


def generated_certificate(
    name: str, *, common_name: str, dns_names: Sequence[str], parent: pulumi.Resource
) -> ServerCertificate:
    """A self-signed ECDSA server certificate for `dns_names`, renewed 30 days before expiry."""
    opts = pulumi.ResourceOptions(parent=parent)
    key = tls.PrivateKey(f"{name}-tls-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    cert = tls.SelfSignedCert(
        f"{name}-tls-cert",
        private_key_pem=key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(
            common_name=common_name, organization="data-platform"
        ),
        dns_names=sorted(set(dns_names)),
        validity_period_hours=VALIDITY_HOURS,
        early_renewal_hours=RENEW_BEFORE_HOURS,
        allowed_uses=["key_encipherment", "digital_signature", "server_auth"],
        opts=opts,
    )
    return ServerCertificate(
        cert_pem=cert.cert_pem, key_pem=pulumi.Output.secret(key.private_key_pem)
    )


def configured_certificate(
    cert_pem: pulumi.Output[str], key_pem: pulumi.Output[str]
) -> ServerCertificate:
    """A certificate supplied by the operator through secret stack config."""
    return ServerCertificate(cert_pem=cert_pem, key_pem=pulumi.Output.secret(key_pem))
