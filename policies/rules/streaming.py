"""Kafka: durable in prod, encrypted and authenticated where the stack says, deny by
default, topics declared as code.

Node configs are read wherever they are delivered (`kafka_config.node_configs`: any
server.properties-like file of any ConfigMap, visible Secret or Docker upload, or the
`KAFKA_*` env of any container); topics are any `kafka:index/topic:Topic` (pulumi-kafka:
`name`, `partitions`, `replicationFactor`, `config`); the topic provider is any
`pulumi:providers:kafka` (judged by `provider-connections-use-tls`). Durability values
follow Kafka's own defaults when a key is absent (kafka.apache.org/documentation/
#brokerconfigs): `default.replication.factor` 1, `min.insync.replicas` 1,
`unclean.leader.election.enable` false, `offsets.topic.replication.factor` 3,
`transaction.state.log.replication.factor` 3, `transaction.state.log.min.isr` 2,
`share.coordinator.state.topic.replication.factor` 3, `auto.create.topics.enable` true.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.declare import mandatory_policy

from . import kafka_config, wire
from .kafka_config import KafkaConfig
from .ownership import CLASSIFICATION_SCHEMA

KAFKA_TOPIC = "kafka:index/topic:Topic"

DURABILITY_SCHEMA: dict[str, dict[str, Any]] = {
    "requireDurability": {
        "type": "boolean",
        "default": True,
        "description": "Judge durability at all (false on a single-node dev stack).",
    },
    "minReplicationFactor": {"type": "integer", "default": 3},
    "minInsyncReplicas": {"type": "integer", "default": 2},
}
TLS_SCHEMA: dict[str, dict[str, Any]] = {
    "requireTls": {
        "type": "boolean",
        "default": True,
        "description": "Judge listeners at all (false on a loopback-only dev stack).",
    },
}
AUTH_SCHEMA: dict[str, dict[str, Any]] = {
    "requireAuthentication": {
        "type": "boolean",
        "default": True,
        "description": "Judge listeners and authorization (false on a loopback-only dev stack).",
    },
}

_INTERNAL_REPLICATION_KEYS = (
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "share.coordinator.state.topic.replication.factor",
)
"""Replication of Kafka's internal topics (consumer offsets, transactions, share groups)."""


def _integer(value: Any) -> int | None:
    """A whole number sent as a number or as text; None otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raw = (wire.text(value) or "").strip()
    return int(raw) if raw.lstrip("-").isdigit() else None


def _durability(args: Any) -> tuple[int, int] | None:
    """(minimum replication factor, minimum ISR), or None when durability is not judged."""
    if not wire.setting(args, DURABILITY_SCHEMA, "requireDurability"):
        return None
    return (
        int(wire.setting(args, DURABILITY_SCHEMA, "minReplicationFactor")),
        int(wire.setting(args, DURABILITY_SCHEMA, "minInsyncReplicas")),
    )


# --- broker durability ------------------------------------------------------------------


def node_durability_problems(config: KafkaConfig, replication: int, isr: int) -> list[str]:
    """What makes one node's settings lose acknowledged writes (empty when durable)."""
    problems: list[str] = []
    factor = config.integer("default.replication.factor")
    if config.creates_topics and (factor or 1) < replication:
        shown = factor if factor is not None else "unset (Kafka's default 1)"
        problems.append(f"default.replication.factor {shown} < {replication}")
    elif factor is not None and factor < replication:
        problems.append(f"default.replication.factor {factor} < {replication}")
    minimum = config.integer("min.insync.replicas")
    if (minimum or 1) < isr:
        shown = minimum if minimum is not None else "unset (Kafka's default 1)"
        problems.append(f"min.insync.replicas {shown} < {isr}")
    if config.flag("unclean.leader.election.enable"):
        problems.append("unclean.leader.election.enable=true")
    # Absent, these take Kafka's defaults (3, and 2 for the ISR), which are durable.
    for key in _INTERNAL_REPLICATION_KEYS:
        value = config.integer(key)
        if value is not None and value < replication:
            problems.append(f"{key} {value} < {replication}")
    value = config.integer("transaction.state.log.min.isr")
    if value is not None and value < isr:
        problems.append(f"transaction.state.log.min.isr {value} < {isr}")
    return problems


def validate_broker_durability(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every Kafka node config keeps three copies and two in-sync acknowledgements."""
    limits = _durability(args)
    if limits is None:
        return
    for config in kafka_config.node_configs(args.resource_type, args.props):
        problems = node_durability_problems(config, *limits)
        if problems:
            report(
                f"Kafka node config {config.where} of '{args.name}': {'; '.join(problems)}: "
                "a broker failure can lose acknowledged writes.",
                None,
            )


# --- topic durability -------------------------------------------------------------------


def _broker_isr_known(args: StackValidationArgs, isr: int) -> bool:
    """True when the stack configures brokers and every one defaults min.insync.replicas
    to at least `isr` (so a topic that leaves the key out inherits a safe value)."""
    brokers = [
        config
        for resource in args.resources
        for config in kafka_config.node_configs(resource.resource_type, resource.props)
        if config.serves_clients
    ]
    return bool(brokers) and all((c.integer("min.insync.replicas") or 1) >= isr for c in brokers)


def validate_topic_durability(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every pulumi-kafka Topic has replicationFactor >= 3, min.insync.replicas >= 2 (its
    own, or every broker's default) and no unclean leader election."""
    limits = _durability(args)
    if limits is None:
        return
    replication, isr = limits
    safe_default: bool | None = None
    for resource in args.resources:
        if resource.resource_type != KAFKA_TOPIC:
            continue
        props = resource.props
        name = wire.text(wire.get(props, "name")) or resource.name
        problems: list[str] = []
        factor = _integer(wire.get(props, "replicationFactor"))
        if factor is not None and factor < replication:
            problems.append(f"replicationFactor {factor} < {replication}")
        config = wire.get(props, "config")
        if wire.is_unknown(config):
            config = {}
        settings = dict(wire.items(config))
        minimum = settings.get("min.insync.replicas")
        if minimum is None:
            if safe_default is None:
                safe_default = _broker_isr_known(args, isr)
            if not safe_default:
                problems.append(
                    f"min.insync.replicas unset while the brokers' default is not known to "
                    f"be >= {isr}"
                )
        else:
            value = _integer(minimum)
            if value is not None and value < isr:
                problems.append(f"min.insync.replicas {value} < {isr}")
        unclean = settings.get("unclean.leader.election.enable")
        if wire.boolean(unclean) is True:
            problems.append("unclean.leader.election.enable=true")
        if problems:
            report(
                f"Kafka topic '{name}': {'; '.join(problems)}: acknowledged writes can be lost.",
                resource.urn,
            )


# --- topic classification and owner ---------------------------------------------------------


def _topic_facts(topic: PolicyResource) -> tuple[Any, Any, Any] | None:
    """(topic, classification, owner) inputs of the Topic's parent; None without one."""
    parent = topic.parent
    if parent is None:
        return None
    props = parent.props
    return (
        wire.get(props, "topic"),
        wire.get(props, "classification"),
        wire.get(props, "owner"),
    )


def validate_topic_governance(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every pulumi-kafka Topic's parent names it and carries its classification and owner."""
    allowed = [str(c) for c in wire.setting(args, CLASSIFICATION_SCHEMA, "allowedClassifications")]
    for resource in args.resources:
        if resource.resource_type != KAFKA_TOPIC:
            continue
        name = wire.get(resource.props, "name")
        shown = wire.text(name) or resource.name
        facts = _topic_facts(resource)
        if facts is None:
            report(
                f"Kafka topic '{shown}' has no parent resource carrying its data "
                "classification and owner.",
                resource.urn,
            )
            continue
        topic, classification, owner = facts
        problems: list[str] = []
        known = not wire.is_unknown(topic) and not wire.is_unknown(name)
        if known and topic is not None and wire.text(topic) != wire.text(name):
            problems.append(f"its parent describes topic {topic!r}, not {shown!r}")
        if not wire.is_unknown(classification):
            if not wire.text(classification):
                problems.append("no classification")
            elif classification not in allowed:
                problems.append(
                    f"classification {classification!r} (allowed: {', '.join(allowed)})"
                )
        if not wire.is_unknown(owner) and not (wire.text(owner) or "").strip():
            problems.append("no owner")
        if problems:
            report(
                f"Kafka topic '{shown}' (parent '{resource.parent.name if resource.parent else '?'}'): "
                f"{'; '.join(problems)}.",
                resource.urn,
            )


# --- listeners ----------------------------------------------------------------------------


def validate_no_plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No Kafka listener, client config or client env uses PLAINTEXT or SASL_PLAINTEXT."""
    if not wire.setting(args, TLS_SCHEMA, "requireTls"):
        return
    for config in kafka_config.node_configs(args.resource_type, args.props):
        for key, listener, protocol in kafka_config.listener_protocols(config):
            if protocol in kafka_config.PLAINTEXT_PROTOCOLS:
                report(
                    f"Kafka node config {config.where} of '{args.name}': listener {listener} "
                    f"({key}) speaks {protocol}: records cross the network unencrypted.",
                    None,
                )
    for config in kafka_config.client_configs(args.resource_type, args.props):
        for key, protocol in kafka_config.client_protocol(config):
            if protocol in kafka_config.PLAINTEXT_PROTOCOLS:
                report(
                    f"Kafka client config {config.where} of '{args.name}': {key} is "
                    f"{protocol}: records cross the network unencrypted.",
                    None,
                )
    for where, variable, value in kafka_config.env_security_protocols(
        args.resource_type, args.props
    ):
        if value.strip().upper() in kafka_config.PLAINTEXT_PROTOCOLS:
            report(
                f"{where} of '{args.name}' sets {variable}={value}: its Kafka client "
                "talks to the brokers unencrypted.",
                None,
            )


def _client_auth(config: KafkaConfig, listener: str) -> str:
    settings = config.settings
    own = settings.get(f"listener.name.{listener.lower()}.ssl.client.auth")
    return (own if own is not None else settings.get("ssl.client.auth", "none")).strip().lower()


def validate_authenticated(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every listener a Kafka node binds authenticates its peer: SASL_*, or SSL with
    ssl.client.auth=required (the listener's own setting over the node's)."""
    if not wire.setting(args, AUTH_SCHEMA, "requireAuthentication"):
        return
    for config in kafka_config.node_configs(args.resource_type, args.props):
        for key, listener, protocol in kafka_config.listener_protocols(config):
            if key != "listeners" or protocol is None or protocol.startswith("SASL_"):
                continue
            if protocol == "SSL" and _client_auth(config, listener) == "required":
                continue
            why = "PLAINTEXT" if protocol == "PLAINTEXT" else "SSL without ssl.client.auth=required"
            report(
                f"Kafka node config {config.where} of '{args.name}': listener {listener} "
                f"accepts anonymous peers ({why}).",
                None,
            )


def validate_authorizer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every Kafka node runs an authorizer that denies what no ACL allows."""
    if not wire.setting(args, AUTH_SCHEMA, "requireAuthentication"):
        return
    for config in kafka_config.node_configs(args.resource_type, args.props):
        problems: list[str] = []
        if not (config.settings.get("authorizer.class.name") or "").strip():
            problems.append("no authorizer.class.name (every client may do everything)")
        if config.flag("allow.everyone.if.no.acl.found"):
            problems.append("allow.everyone.if.no.acl.found=true")
        supers = [s.strip() for s in (config.settings.get("super.users") or "").split(";")]
        if "User:ANONYMOUS" in supers:
            problems.append("super.users names User:ANONYMOUS")
        if problems:
            report(
                f"Kafka node config {config.where} of '{args.name}': {'; '.join(problems)}.",
                None,
            )


def validate_no_auto_create(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every Kafka broker sets auto.create.topics.enable=false (Kafka's default is true)."""
    for config in kafka_config.node_configs(args.resource_type, args.props):
        if config.serves_clients and config.flag("auto.create.topics.enable") is not False:
            report(
                f"Kafka node config {config.where} of '{args.name}' lets clients create "
                "topics by naming them (auto.create.topics.enable is not false): such "
                "topics get default settings and no declared classification or owner.",
                None,
            )


KAFKA_ACL = "kafka:index/acl:Acl"
_CLUSTER_READ = frozenset({"describe", "describeconfigs", "idempotentwrite"})


def acl_problems(props: Any) -> list[str]:
    """What makes one Allow ACL broader than a named principal doing named things."""
    fields = {
        key: wire.get(props, key)
        for key in (
            "aclPermissionType",
            "aclPrincipal",
            "aclOperation",
            "aclResourceName",
            "aclResourceType",
            "resourcePatternTypeFilter",
        )
    }
    if any(wire.is_unknown(v) for v in fields.values()):
        return []
    text = {k: (wire.text(v) or "").strip() for k, v in fields.items()}
    if text["aclPermissionType"].lower() != "allow":
        return []
    problems: list[str] = []
    if text["aclPrincipal"] in ("User:*", "*"):
        problems.append(f"principal {text['aclPrincipal']} (every user)")
    if text["aclOperation"].lower() == "all":
        problems.append("operation All")
    pattern = text["resourcePatternTypeFilter"].lower() or "literal"
    name = text["aclResourceName"]
    if (pattern == "literal" and name == "*") or (pattern == "prefixed" and not name):
        problems.append(f"every {text['aclResourceType'] or 'resource'} ({pattern} {name!r})")
    if text["aclResourceType"].lower() == "cluster" and text["aclOperation"].lower() not in (
        _CLUSTER_READ | {"all"}
    ):
        problems.append(f"cluster-wide {text['aclOperation']}")
    return problems


def validate_acls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No pulumi-kafka Allow ACL names every user, every operation or every resource, or
    grants cluster-wide changes."""
    if args.resource_type != KAFKA_ACL:
        return
    problems = acl_problems(args.props)
    if problems:
        report(
            f"Kafka ACL '{args.name}' allows {'; '.join(problems)}: grant a named principal "
            "the operations it needs on the topics and groups it uses.",
            None,
        )


def _policy(
    name: str,
    description: str,
    validate: Any,
    severity: Severity,
    remediation: str,
    schema: dict[str, dict[str, Any]] | None,
) -> ResourceValidationPolicy:
    return mandatory_policy(
        name,
        description,
        validate,
        severity=severity,
        remediation=remediation,
        tags=("kafka",),
        schema=schema,
    )


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    _policy(
        "kafka-broker-durability",
        "Where requireDurability is set (prod), every Kafka node config (server.properties-"
        "like file of any ConfigMap, visible Secret or Docker upload with process.roles/"
        "node.id/broker.id, or KAFKA_* env) keeps acknowledged writes: "
        "default.replication.factor >= 3 where topics are created (controllers, ZooKeeper-"
        "era brokers; absent means 1), min.insync.replicas >= 2 (absent means 1), no "
        "unclean.leader.election.enable=true, and offsets/transaction-state/share-state "
        "topics replicated 3 times with transaction.state.log.min.isr >= 2.",
        validate_broker_durability,
        Severity.CRITICAL,
        "Set default.replication.factor=3, min.insync.replicas=2, "
        "unclean.leader.election.enable=false and the internal topics' replication factor "
        "to 3 (the Kafka settings' prod defaults).",
        DURABILITY_SCHEMA,
    ),
    StackValidationPolicy(
        name="kafka-topic-durability",
        description=(
            "Where requireDurability is set (prod), every pulumi-kafka Topic has "
            "replicationFactor >= 3, min.insync.replicas >= 2 in its config (or, left out, "
            "every broker config of the stack defaults it to >= 2) and no "
            "unclean.leader.election.enable=true."
        ),
        validate=validate_topic_durability,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
        config_schema=PolicyConfigSchema(properties=DURABILITY_SCHEMA),
        remediation_steps=(
            "Declare the topic with replicationFactor 3 and minInsyncReplicas 2 (or leave "
            "both to the prod cluster defaults)."
        ),
        tags=["kafka", "durability"],
    ),
    StackValidationPolicy(
        name="kafka-topic-classification-owner",
        description=(
            "Every pulumi-kafka Topic (whoever declares it) is the child of a resource whose "
            "inputs carry its governance facts: `classification` (one of "
            "allowedClassifications), a non-empty `owner`, and, when present, `topic` equal "
            "to the Topic's name. Kafka refuses unknown topic configs and a Topic has no "
            "labels, so the parent (the platform's dataplatform:streaming:KafkaTopic "
            "component, docs/kafka.md) holds them."
        ),
        validate=validate_topic_governance,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        config_schema=PolicyConfigSchema(properties=CLASSIFICATION_SCHEMA),
        remediation_steps=(
            "Declare the topic in the stack's kafka.topics with classification and owner; "
            "the Kafka component creates the Topic under a component carrying both."
        ),
        tags=["kafka", "ownership", "data-governance"],
    ),
    _policy(
        "kafka-no-plaintext-listeners",
        "Where requireTls is set (test, prod), no Kafka node binds, advertises or reaches "
        "its controllers through a listener mapped (listener.security.protocol.map, else "
        "Kafka's default map) to PLAINTEXT or SASL_PLAINTEXT, no Kafka client config "
        "(bootstrap.servers files, *security.protocol keys, Trino kafka catalogs; unset "
        "means PLAINTEXT) and no *SECURITY_PROTOCOL env variable uses either.",
        validate_no_plaintext,
        Severity.CRITICAL,
        "Serve every listener as SSL or SASL_SSL (Kafka settings: listeners.tls true) and "
        "set security.protocol=SASL_SSL (or SSL) in every client.",
        TLS_SCHEMA,
    ),
    _policy(
        "kafka-listeners-authenticated",
        "Where requireAuthentication is set (test, prod), every listener a Kafka node binds "
        "authenticates its peer: SASL_SSL/SASL_PLAINTEXT, or SSL with ssl.client.auth="
        "required (listener.name.<listener>.ssl.client.auth over ssl.client.auth).",
        validate_authenticated,
        Severity.HIGH,
        "Use SASL/SCRAM on the client listener and mutual TLS (ssl.client.auth=required) "
        "between nodes.",
        AUTH_SCHEMA,
    ),
    _policy(
        "kafka-authorizer-deny-by-default",
        "Where requireAuthentication is set (test, prod), every Kafka node config names an "
        "authorizer.class.name, leaves allow.everyone.if.no.acl.found false and lists no "
        "User:ANONYMOUS super user, so a client does only what an ACL grants it.",
        validate_authorizer,
        Severity.HIGH,
        "Set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer "
        "and allow.everyone.if.no.acl.found=false; grant each consumer ACLs.",
        AUTH_SCHEMA,
    ),
    _policy(
        "kafka-acls-least-privilege",
        "No pulumi-kafka Acl (kafka:index/acl:Acl) with aclPermissionType Allow names every "
        "user (User:*), operation All, every resource (Literal '*', Prefixed ''), or a "
        "cluster-wide operation other than Describe, DescribeConfigs and IdempotentWrite "
        "(Create, Alter, AlterConfigs, ClusterAction: topics are code, configs are the "
        "platform's).",
        validate_acls,
        Severity.HIGH,
        "Grant each consumer's principal Read/Write/Describe on its topics (Literal) and Read "
        "on its consumer-group prefix, as the platform's stream contracts do.",
        None,
    ),
    _policy(
        "kafka-no-auto-topic-creation",
        "Every Kafka broker config sets auto.create.topics.enable=false (Kafka's default is "
        "true): topics are declared as code with their durability, classification and owner.",
        validate_no_auto_create,
        Severity.MEDIUM,
        "Set auto.create.topics.enable=false and declare the topic in the stack's kafka.topics.",
        None,
    ),
]
"""The Kafka policies."""
