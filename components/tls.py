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


SERVER_USES = ("key_encipherment", "digital_signature", "server_auth")
"""Extended and key usages of a server certificate (RFC 5280 names, as pulumi-tls takes them)."""


@dataclass(frozen=True)
class ServerCertificate:
    """A PEM certificate and its private key (secret); `key_pem_pkcs8` is the same key in
    PKCS#8 (secret; None for a configured certificate), which Java's PEM key stores need."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    key_pem_pkcs8: pulumi.Output[str] | None = None


def generated_certificate(
    name: str,
    *,
    common_name: str,
    dns_names: Sequence[str],
    parent: pulumi.Resource,
    kind: str = "tls",
    ip_addresses: Sequence[str] = (),
    allowed_uses: Sequence[str] = SERVER_USES,
) -> ServerCertificate:
    """A self-signed ECDSA P-256 certificate for `dns_names` (and `ip_addresses`), renewed
    30 days before expiry; its resources are named `<name>-<kind>-key` / `-cert`."""
    opts = pulumi.ResourceOptions(parent=parent)
    key = tls.PrivateKey(f"{name}-{kind}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    cert = tls.SelfSignedCert(
        f"{name}-{kind}-cert",
        private_key_pem=key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(
            common_name=common_name, organization="data-platform"
        ),
        dns_names=sorted(set(dns_names)),
        ip_addresses=list(ip_addresses) or None,
        validity_period_hours=VALIDITY_HOURS,
        early_renewal_hours=RENEW_BEFORE_HOURS,
        allowed_uses=list(allowed_uses),
        opts=opts,
    )
    return ServerCertificate(
        cert_pem=cert.cert_pem,
        key_pem=pulumi.Output.secret(key.private_key_pem),
        key_pem_pkcs8=pulumi.Output.secret(key.private_key_pem_pkcs8),
    )


def pem_bundle(*parts: pulumi.Input[str] | None) -> pulumi.Output[str]:
    """PEM blocks joined in order, each ending in a newline (secret): a key store.

    A part that is not known yet (a preview's unknown, a mock's absent value) joins as
    empty: the bundle is complete whenever its parts are.
    """

    def join(values: list[str | None]) -> str:
        return "".join(v if v.endswith("\n") else v + "\n" for v in values if v)

    return pulumi.Output.secret(pulumi.Output.all(*parts).apply(join))


def configured_certificate(
    cert_pem: pulumi.Output[str], key_pem: pulumi.Output[str]
) -> ServerCertificate:
    """A certificate supplied by the operator through secret stack config."""
    return ServerCertificate(cert_pem=cert_pem, key_pem=pulumi.Output.secret(key_pem))
