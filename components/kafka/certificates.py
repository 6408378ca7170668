"""The Kafka nodes' TLS identity: one generated certificate for every node (pulumi-tls).

Nodes authenticate each other with it (mutual TLS on the INTERNAL and CONTROLLER
listeners), so it allows both `server_auth` and `client_auth` (Java checks the extended
key usage of a client certificate) and its subject's CN is the node principal that
`super.users` names (`User:<nodePrincipal>`, via `ssl.principal.mapping.rules`). It is
self-signed and is itself the trust anchor every node and client is given (`ca.crt`):
Java, OpenSSL (librdkafka) and Go accept a trusted self-signed end-entity certificate.
SANs cover every per-pod name (one wildcard per headless Service), the client Service
and loopback (probes and `kafka-*.sh` run inside a pod).

Kafka reads PEM key stores (KIP-651) only with a PKCS#8 key, hence `private_key_pem_pkcs8`.
Renewed 30 days before expiry like the other generated certificates (components/tls.py);
a renewal changes the secret files, which rolls the pods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.tls import RENEW_BEFORE_HOURS, VALIDITY_HOURS


@dataclass(frozen=True)
class NodeCertificate:
    """The nodes' certificate (also the trust anchor) and the key store Kafka reads."""

    cert_pem: pulumi.Output[str]
    keystore_pem: pulumi.Output[str]
    """PKCS#8 private key followed by the certificate (secret)."""


def pem_bundle(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
    """PEM blocks joined in order, each ending in a newline (secret).

    A part that is not known yet (a preview's unknown, a mock's absent value) joins as
    empty: the bundle is complete whenever its parts are.
    """

    def join(values: list[str | None]) -> str:
        return "".join(v if v.endswith("\n") else v + "\n" for v in values if v)

    return pulumi.Output.secret(pulumi.Output.all(*parts).apply(join))


def node_certificate(
    name: str, *, principal: str, dns_names: Sequence[str], parent: pulumi.Resource
) -> NodeCertificate:
    """A self-signed ECDSA P-256 certificate with CN `principal` for `dns_names`."""
    opts = pulumi.ResourceOptions(parent=parent)
    key = tls.PrivateKey(f"{name}-node-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    cert = tls.SelfSignedCert(
        f"{name}-node-cert",
        private_key_pem=key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(common_name=principal, organization="data-platform"),
        dns_names=sorted(set(dns_names)),
        ip_addresses=["127.0.0.1"],
        validity_period_hours=VALIDITY_HOURS,
        early_renewal_hours=RENEW_BEFORE_HOURS,
        allowed_uses=["digital_signature", "key_agreement", "server_auth", "client_auth"],
        opts=opts,
    )
    # Not secret, but kept as one: what is not a secret never needs telling apart from
    # what is, in a render or a log (tests/unit/test_render.py looks for generated values).
    return NodeCertificate(
        cert_pem=pulumi.Output.secret(cert.cert_pem),
        keystore_pem=pem_bundle(key.private_key_pem_pkcs8, cert.cert_pem),
    )
