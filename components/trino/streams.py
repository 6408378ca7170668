"""Trino's files for lineage and Kafka, rendered as text: pure functions of access values.

- `render_openlineage_listener`: the OpenLineage event listener (`event-listener.name=
  openlineage`), posting run events with column lineage for INSERT ... SELECT and CTAS to
  the stack's lineage producer under the stack's namespace (the properties come from
  `components.marquez.files.trino_openlineage_file`, the Marquez side of the seam);
- `render_kafka_event_listener`: Trino's Kafka event listener (`event-listener.name=kafka`),
  one JSON record per completed query on the query-audit topic (no created or split
  events); it refuses to start the coordinator when it cannot reach the topic (fail
  closed: a Trino that runs queries must leave an audit trail);
- `render_kafka_catalog`: the `kafka` catalog (connector `kafka`), one table of raw
  messages per exposed topic, internal columns visible (the topics have no table
  description files, so `_message`, `_key`, `_timestamp` ... are the columns);
- `render_kafka_client`: the Kafka client properties both share (security protocol,
  SASL/SCRAM login of Trino's own principal, the brokers' CA as PEM trust store). It
  carries the password: the component ships it as a secret file.

Property names are Trino 476's (checked against the `@Config` names in the 476 plugins'
jars: `KafkaEventListenerConfig`, `KafkaConfig`, `FileTableDescriptionSupplierConfig`)
and unchanged in the current docs (trino.io/docs/current/admin/event-listeners-kafka.html,
/admin/event-listeners-openlineage.html, /connector/kafka.html). Both Kafka plugins put
the `config.resources` files over their own client settings, which is how SASL reaches
them (the connector's `kafka.security-protocol` knows only PLAINTEXT and SSL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import javaproperties

from components.marquez.files import trino_openlineage_file
from components.trino.files import CATALOG_DIR, CONFIG_DIR

OPENLINEAGE_LISTENER_FILE = f"{CONFIG_DIR}/openlineage-listener.properties"
KAFKA_LISTENER_FILE = f"{CONFIG_DIR}/kafka-audit-listener.properties"
KAFKA_CLIENT_FILE = f"{CONFIG_DIR}/kafka-client.properties"
"""Outside the catalog directory: Trino loads every `*.properties` there as a catalog."""
KAFKA_CA_FILE = f"{CONFIG_DIR}/kafka-ca.pem"
KAFKA_CATALOG_FILE = f"{CATALOG_DIR}/kafka.properties"
KAFKA_CATALOG = "kafka"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
AUDIT_CLIENT_ID = "trino-query-audit"


@dataclass(frozen=True, kw_only=True)
class KafkaClient:
    """How Trino's Kafka clients log in: protocol, SCRAM user and password, the CA file.

    `security_protocol` is Kafka's `security.protocol` (`SASL_SSL`, `SASL_PLAINTEXT`,
    `SSL` or `PLAINTEXT`); `sasl_mechanism` None means no SASL (then no user/password);
    `ca_file` is the PEM the brokers' certificate is checked against (None without TLS).
    """

    security_protocol: str
    sasl_mechanism: str | None = None
    user: str = ""
    password: str = ""
    ca_file: str | None = None


def _dump(properties: dict[str, str]) -> str:
    """A properties file as `java.util.Properties` reads it: sorted, no timestamp comment."""
    return javaproperties.dumps(properties, timestamp=None, sort_keys=True)


def render_openlineage_listener(*, trino_uri: str, lineage_url: str, namespace: str) -> str:
    """The OpenLineage listener file: `trino_uri` is the coordinator's `http(s)://host:port`
    (datasets are named `trino://host:port`), `lineage_url` the lineage API's base URL,
    `namespace` the stack's job namespace. ValueError for a URL with a path or no port."""
    return trino_openlineage_file(trino_uri=trino_uri, marquez_url=lineage_url, namespace=namespace)


def render_kafka_client(client: KafkaClient) -> str:
    """Kafka client properties for Trino's principal (secret when it holds a password).

    ValueError when SASL is asked for without a user and password, or TLS without a CA.
    """
    properties = {"security.protocol": client.security_protocol}
    if client.sasl_mechanism is not None:
        if not client.user or not client.password:
            raise ValueError(f"{client.sasl_mechanism} needs Trino's Kafka user and password")
        password = client.password.replace("\\", "\\\\").replace('"', '\\"')
        properties |= {
            "sasl.mechanism": client.sasl_mechanism,
            "sasl.jaas.config": (
                f'{SCRAM_LOGIN_MODULE} required username="{client.user}" password="{password}";'
            ),
        }
    if client.security_protocol.endswith("SSL"):
        if client.ca_file is None:
            raise ValueError(f"{client.security_protocol} needs the brokers' CA file")
        properties |= {
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": client.ca_file,
            "ssl.endpoint.identification.algorithm": "https",
        }
    return _dump(properties)


def render_kafka_event_listener(
    *, bootstrap_servers: Sequence[str], topic: str, client_file: str = KAFKA_CLIENT_FILE
) -> str:
    """The Kafka event listener file: completed queries only, to `topic`.

    Created-query events are off (they repeat the query without its outcome) and so are
    split events (per task: volume without audit value).
    """
    return _dump(
        {
            "event-listener.name": "kafka",
            "kafka-event-listener.broker-endpoints": ",".join(bootstrap_servers),
            "kafka-event-listener.client-id": AUDIT_CLIENT_ID,
            "kafka-event-listener.publish-completed-event": "true",
            "kafka-event-listener.completed-event.topic": topic,
            "kafka-event-listener.publish-created-event": "false",
            "kafka-event-listener.publish-split-completed-event": "false",
            "kafka-event-listener.terminate-on-initialization-failure": "true",
            "kafka-event-listener.config.resources": client_file,
        }
    )


def render_kafka_catalog(
    *, bootstrap_servers: Sequence[str], topics: Sequence[str], client_file: str = KAFKA_CLIENT_FILE
) -> str:
    """The `kafka` catalog: a table per topic (`a.b-c` is schema `a`, table `b-c`), its
    raw message columns visible, Trino's principal's client settings from `client_file`."""
    return _dump(
        {
            "connector.name": "kafka",
            "kafka.nodes": ",".join(bootstrap_servers),
            "kafka.table-names": ",".join(topics),
            "kafka.hide-internal-columns": "false",
            "kafka.config.resources": client_file,
        }
    )


def event_listener_files(*, lineage: bool, audit: bool) -> tuple[str, ...]:
    """`event-listener.config-files` entries, in a fixed order (lineage, then audit)."""
    return (
        *((OPENLINEAGE_LISTENER_FILE,) if lineage else ()),
        *((KAFKA_LISTENER_FILE,) if audit else ()),
    )
