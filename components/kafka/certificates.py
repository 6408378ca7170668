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

from components.tls import generated_certificate, pem_bundle


@dataclass(frozen=True)
class NodeCertificate:
    """The nodes' certificate (also the trust anchor) and the key store Kafka reads."""

    cert_pem: pulumi.Output[str]
    keystore_pem: pulumi.Output[str]
    """PKCS#8 private key followed by the certificate (secret)."""


NODE_USES = ("digital_signature", "key_agreement", "server_auth", "client_auth")
"""Server and client use: nodes authenticate each other with the same certificate."""


def node_certificate(
    name: str, *, principal: str, dns_names: Sequence[str], parent: pulumi.Resource
) -> NodeCertificate:
    """A self-signed certificate with CN `principal` for `dns_names` and loopback."""
    generated = generated_certificate(
        name,
        common_name=principal,
        dns_names=dns_names,
        parent=parent,
        kind="node",
        ip_addresses=["127.0.0.1"],
        allowed_uses=NODE_USES,
    )
    # Not secret, but kept as one: what is not a secret never needs telling apart from
    # what is, in a render or a log (tests/unit/test_render.py looks for generated values).
    return NodeCertificate(
        cert_pem=pulumi.Output.secret(generated.cert_pem),
        keystore_pem=pem_bundle(generated.key_pem_pkcs8, generated.cert_pem),
    )
