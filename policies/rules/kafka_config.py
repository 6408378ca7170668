"""Reading Kafka configuration wherever a resource carries it (no policies here).

- Broker (KRaft or ZooKeeper-era) node configs: any delivered file (ConfigMap `data` /
  `binaryData`, Secret `stringData` / `data` where visible, Docker upload) that parses as
  Java properties with `process.roles`, `node.id` or `broker.id`; and the env of any
  container (every list of every pod spec, Docker `envs`) configured the way the
  `apache/kafka` image reads it (`KAFKA_PROCESS_ROLES`, `KAFKA_NODE_ID`, ...: strip
  `KAFKA_`, lower-case, `___` -> `-`, `__` -> `_`, `_` -> `.`).
- Client configs: any delivered Java-properties file with `bootstrap.servers` or a
  `*security.protocol` / `*security-protocol` key (Java clients, Connect/MirrorMaker
  `producer.`/`consumer.`/`admin.` prefixes, Trino's `kafka.security-protocol`), and a
  Trino catalog with `connector.name=kafka`.
- Listener security: `listeners`, `advertised.listeners`, `controller.listener.names`
  resolved through `listener.security.protocol.map` (Kafka's default map names each
  protocol after itself).

Files are parsed with `javaproperties` (escapes, continuations, `=`/`:`/space separators
as `java.util.Properties.load` reads them), installed with the project that runs the pack.
Upstream: kafka.apache.org/documentation/#brokerconfigs, the apache/kafka image's
docker/README ("Using environment variables").
"""

from __future__ import annotations

import functools
import re
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import javaproperties

from . import wire

BROKER_KEYS = ("process.roles", "node.id", "broker.id")
"""A properties file (or env set) with any of these configures a Kafka node."""

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
PLAINTEXT_PROTOCOLS = frozenset({"PLAINTEXT", "SASL_PLAINTEXT"})
"""Protocols that carry records (and SASL_PLAINTEXT's credentials exchange) unencrypted."""

_NOT_PROPERTIES = (".json", ".yaml", ".yml", ".xml", ".sh", ".py", ".sql", ".pem", ".crt")
_ENV_PREFIX = "KAFKA_"
_ENV_SEPARATORS = {"___": "-", "__": "_", "_": "."}
_LISTENER = re.compile(r"^\s*([A-Za-z0-9_]+)://")


@dataclass(frozen=True)
class KafkaConfig:
    """One node's or client's settings and where they were read (for messages)."""

    where: str
    settings: Mapping[str, str]

    @property
    def roles(self) -> frozenset[str]:
        """KRaft roles; empty for a ZooKeeper-era broker (no `process.roles`)."""
        raw = self.settings.get("process.roles", "")
        return frozenset(r.strip().lower() for r in raw.split(",") if r.strip())

    @property
    def serves_clients(self) -> bool:
        """True for a broker (KRaft `broker` role, or no `process.roles` at all)."""
        return not self.roles or "broker" in self.roles

    @property
    def creates_topics(self) -> bool:
        """True where `default.replication.factor` applies: KRaft controllers create
        topics (Kafka 4 ignores it on broker-only nodes), ZooKeeper-era brokers too."""
        return not self.roles or "controller" in self.roles

    def integer(self, key: str) -> int | None:
        """An integer setting; None when absent or not an integer."""
        raw = self.settings.get(key)
        try:
            return int(raw.strip()) if raw is not None else None
        except ValueError:
            return None

    def flag(self, key: str) -> bool | None:
        """A boolean setting (Kafka accepts true/false, any case); None when absent/odd."""
        raw = (self.settings.get(key) or "").strip().lower()
        return {"true": True, "false": False}.get(raw)


@functools.lru_cache(maxsize=512)
def parse_properties(content: str) -> Mapping[str, str] | None:
    """Java properties text -> read-only settings (`java.util.Properties.load` rules);
    None when the text cannot be read as properties. Cached: every Kafka rule reads the
    same files of the same resource."""
    try:
        return types.MappingProxyType(dict(javaproperties.loads(content)))
    except (ValueError, UnicodeError):
        return None


_last = threading.local()


def _per_resource(
    walk: Callable[[str, Any], list[tuple[str, Any]]],
) -> Callable[[str, Any], list[tuple[str, Any]]]:
    """`walk(resource_type, props)` remembering its last result per thread, keyed by the
    identity of `props`: every Kafka rule walks the same resource within one Analyze call
    (the pack hands each policy the same decoded props), so the files and env are read
    once. The entry holds `props`, so its id cannot be reused while remembered."""

    def call(resource_type: str, props: Any) -> list[tuple[str, Any]]:
        held = getattr(_last, walk.__name__, None)
        if held is not None and held[0] is props and held[1] == resource_type:
            return held[2]
        value = walk(resource_type, props)
        setattr(_last, walk.__name__, (props, resource_type, value))
        return value

    return call


@_per_resource
def _property_files(resource_type: str, props: Any) -> list[tuple[str, Mapping[str, str]]]:
    found: list[tuple[str, Mapping[str, str]]] = []
    for name, content in wire.visible_files(resource_type, props):
        if name.lower().endswith(_NOT_PROPERTIES):
            continue
        settings = parse_properties(content)
        if settings:
            found.append((name, settings))
    return found


def env_key(variable: str) -> str | None:
    """`KAFKA_LISTENER_SECURITY_PROTOCOL_MAP` -> `listener.security.protocol.map` (the
    apache/kafka image's mapping); None for variables without the `KAFKA_` prefix."""
    if not variable.startswith(_ENV_PREFIX):
        return None
    rest = variable[len(_ENV_PREFIX) :]
    return re.sub(r"_{1,3}", lambda m: _ENV_SEPARATORS[m.group(0)], rest).lower()


@_per_resource
def _env_sets(resource_type: str, props: Any) -> list[tuple[str, dict[str, str]]]:
    """(container, {variable: literal value}) of every container with known env."""
    found: list[tuple[str, dict[str, str]]] = []
    spec = wire.pod_spec(resource_type, props)
    for _, container in wire.container_entries(spec) if spec is not None else []:
        values: dict[str, str] = {}
        for entry in wire.elements(wire.get(container, "env")):
            name, value = wire.text(wire.get(entry, "name")), wire.text(wire.get(entry, "value"))
            if name is not None and value is not None:
                values[name] = value
        found.append((f"container '{wire.container_name(container)}'", values))
    if resource_type == wire.DOCKER_CONTAINER:
        values = {n: v for n, v in wire.docker_env(props) if n and isinstance(v, str)}
        found.append(("container env", values))
    return found


def node_configs(resource_type: str, props: Any) -> list[KafkaConfig]:
    """Every Kafka node config a resource carries: property files and `KAFKA_*` env."""
    found = [
        KafkaConfig(name, settings)
        for name, settings in _property_files(resource_type, props)
        if any(key in settings for key in BROKER_KEYS)
    ]
    for where, env in _env_sets(resource_type, props):
        settings = {k: v for k, v in ((env_key(n), v) for n, v in env.items()) if k}
        if any(key in settings for key in BROKER_KEYS):
            found.append(KafkaConfig(f"{where} (KAFKA_* env)", settings))
    return found


def client_configs(resource_type: str, props: Any) -> list[KafkaConfig]:
    """Every Kafka client config a resource delivers as a file (not node configs)."""
    found: list[KafkaConfig] = []
    for name, settings in _property_files(resource_type, props):
        if any(key in settings for key in BROKER_KEYS):
            continue
        kafka_catalog = settings.get("connector.name", "").strip() == "kafka"
        if (
            "bootstrap.servers" in settings
            or kafka_catalog
            or any(security_protocol_key(key) for key in settings)
        ):
            found.append(KafkaConfig(name, settings))
    return found


def security_protocol_key(key: str) -> bool:
    """True for a key naming a Kafka client's security protocol (any prefix)."""
    return key.endswith(("security.protocol", "security-protocol"))


def env_security_protocols(resource_type: str, props: Any) -> list[tuple[str, str, str]]:
    """(container, variable, value) of env variables named `*SECURITY_PROTOCOL`."""
    found: list[tuple[str, str, str]] = []
    for where, env in _env_sets(resource_type, props):
        for name, value in env.items():
            if re.search(r"(^|_)SECURITY_PROTOCOL$", name, re.IGNORECASE):
                found.append((where, name, value))
    return found


def protocol_map(config: KafkaConfig) -> dict[str, str]:
    """`listener.security.protocol.map` as {LISTENER: PROTOCOL}; Kafka's default map
    (each protocol name maps to itself) when the key is absent."""
    raw = config.settings.get("listener.security.protocol.map")
    if raw is None:
        return {p: p for p in PROTOCOLS}
    result: dict[str, str] = {}
    for entry in raw.split(","):
        name, _, protocol = entry.partition(":")
        if name.strip() and protocol.strip():
            result[name.strip().upper()] = protocol.strip().upper()
    return result


def listener_protocols(config: KafkaConfig) -> list[tuple[str, str, str | None]]:
    """(key, listener name, protocol or None when unmapped) of every listener a node
    binds, advertises or uses to reach the controllers."""
    mapping = protocol_map(config)
    found: list[tuple[str, str, str | None]] = []
    seen: set[tuple[str, str]] = set()
    for key in ("listeners", "advertised.listeners"):
        for entry in (config.settings.get(key) or "").split(","):
            match = _LISTENER.match(entry)
            if match and (key, match.group(1).upper()) not in seen:
                name = match.group(1).upper()
                seen.add((key, name))
                found.append((key, name, mapping.get(name)))
    for name in (config.settings.get("controller.listener.names") or "").split(","):
        if name.strip():
            found.append(
                (
                    "controller.listener.names",
                    name.strip().upper(),
                    mapping.get(name.strip().upper()),
                )
            )
    return found


def client_protocol(config: KafkaConfig) -> list[tuple[str, str]]:
    """(key, protocol) a client config uses: every `*security.protocol` key, or the
    default PLAINTEXT when a client (`bootstrap.servers`, a Trino kafka catalog) sets none
    and names no `*config.resources` files (Trino's connector and event listener load the
    client settings, security.protocol included, from those; each is judged itself)."""
    found = [
        (key, value.strip().upper())
        for key, value in config.settings.items()
        if security_protocol_key(key)
    ]
    deferred = any(key.endswith("config.resources") for key in config.settings)
    if not found and not deferred:
        key = (
            "kafka.security-protocol"
            if "bootstrap.servers" not in config.settings
            else "security.protocol"
        )
        found.append((f"{key} (unset: the default)", "PLAINTEXT"))
    return found
