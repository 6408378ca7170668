"""The Kafka workloads: a StatefulSet-shaped pool of brokers (or combined nodes) and one of
controllers, as `Workload` specs (components/runtime/workload.py).

Every node of a pool shares one pod template, so each pool carries one rendered
`server.properties` per ordinal (`node-<ordinal>.properties`, the renderer's output as
is) and a start script that picks its own by the pod's ordinal (the StatefulSet pod
name's `-<n>` suffix; a one-node pool always takes 0), copies it to scratch (putting in
the admin address when only the deploy learns it), formats the data directory on first
start (`kafka-storage format --ignore-formatted`, with the cluster id and the admin
SCRAM credential from secret files) and `exec`s the broker. Probes connect to the
node's own listener from inside the container (bash `/dev/tcp`): a broker accepts
connections only once it has caught up with the metadata log and is unfenced, so an
answer means "serving" (Kafka's BrokerServer enables its acceptors after unfencing).

Upstream: the apache/kafka image (uid 1000, /opt/kafka/bin), "KRaft" and "Operations"
in kafka.apache.org/documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.kafka.files import (
    KafkaPaths,
    admin_uses_scram,
    heap_options,
)
from components.kafka.settings import KafkaSettings, NodePoolSettings
from components.runtime.workload import (
    ConfigFile,
    Connection,
    Port,
    Probe,
    ScratchDir,
    SecretFile,
    SecurityProfile,
    Volume,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)

SERVICE = "kafka"
BROKER = "broker"
CONTROLLER = "controller"
KAFKA_UID = 1000  # `appuser` of the apache/kafka image
KAFKA_BIN = "/opt/kafka/bin"
CONFIG_DIR = "/etc/kafka/config"
SECRETS_DIR = "/etc/kafka/secrets"
DATA_MOUNT = "/var/lib/kafka"
SCRATCH = "/tmp"
RUNTIME_CONFIG = f"{SCRATCH}/server.properties"
PATHS = KafkaPaths(data_dir=f"{DATA_MOUNT}/data")  # a sub-directory: no lost+found in log.dirs
CLUSTER_ID_FILE = f"{SECRETS_DIR}/cluster-id"
SCRAM_FILE = f"{SECRETS_DIR}/admin-scram"
ADMIN_CLIENT_FILE = f"{SECRETS_DIR}/admin-client.properties"
ADMIN_HOST_FILE = f"{SECRETS_DIR}/admin-host"
ADMIN_HOST_TOKEN = "@ADMIN_HOST@"
"""Stands for the admin address's host in a rendered file until the pod starts (only
where the deploy creates that address: a Kubernetes load balancer)."""


@dataclass(frozen=True, kw_only=True)
class NodeSecrets:
    """Secret Outputs every node of a cluster reads as files (None: not in this tier)."""

    cluster_id: pulumi.Output[str]
    scram_credential: pulumi.Output[str] | None
    keystore_pem: pulumi.Output[str] | None
    ca_pem: pulumi.Output[str] | None
    admin_client_properties: pulumi.Output[str] | None = None
    admin_host: pulumi.Output[str] | None = None


def node_config_path(ordinal: int) -> str:
    """Where the rendered `server.properties` of a pool's `ordinal`-th node is mounted."""
    return f"{CONFIG_DIR}/node-{ordinal}.properties"


def format_arguments(
    settings: KafkaSettings, *, cluster_id: str, config: str, scram: str
) -> list[str]:
    """`kafka-storage` arguments formatting a node's log dirs on first start only.

    `--ignore-formatted` makes a formatted volume a no-op (a restarted pod keeps its data);
    `--add-scram` bootstraps the admin user where it authenticates with SCRAM. The cluster
    id goes in `--cluster-id=<id>` form: one id in 64 starts with `-` (base64url), which
    the tool's parser would take for an option if it came as a separate argument. The
    values are passed through as given (shell expressions in the start script; literals in
    the real-broker tests, which run exactly these arguments).
    """
    arguments = ["format", "--ignore-formatted", f"--cluster-id={cluster_id}", "--config", config]
    if admin_uses_scram(settings):
        arguments += ["--add-scram", scram]
    return arguments


def start_script(settings: KafkaSettings, *, replicas: int, admin_host_file: bool) -> str:
    """The node's entry point: pick its config, format once, run the broker (POSIX sh)."""
    format_args = [
        f"{KAFKA_BIN}/kafka-storage.sh",
        *format_arguments(
            settings,
            cluster_id=f'"$(cat {CLUSTER_ID_FILE})"',
            config=RUNTIME_CONFIG,
            scram=f'"$(cat {SCRAM_FILE})"',
        ),
    ]
    ordinal = 'ordinal="${HOSTNAME##*-}"' if replicas > 1 else "ordinal=0"
    copy = f'cp "{CONFIG_DIR}/node-$ordinal.properties" {RUNTIME_CONFIG}'
    if admin_host_file:
        copy = (
            f'host="$(cat {ADMIN_HOST_FILE})"\n'
            f'sed "s|{ADMIN_HOST_TOKEN}|$host|g" "{CONFIG_DIR}/node-$ordinal.properties"'
            f" > {RUNTIME_CONFIG}"
        )
    return "\n".join(
        [
            "set -eu",
            ordinal,
            copy,
            f"mkdir -p {PATHS.data_dir}",
            " ".join(format_args),
            f"exec {KAFKA_BIN}/kafka-server-start.sh {RUNTIME_CONFIG}",
        ]
    )


def port_probe(port: int, *, delay: int = 10) -> Probe:
    """An exec probe connecting to `port` on loopback (bash's /dev/tcp; no JVM per probe)."""
    return Probe(
        port=port,
        exec_command=("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"),
        initial_delay_seconds=delay,
        period_seconds=10,
        timeout_seconds=5,
        failure_threshold=6,
    )


def startup_probe(port: int) -> Probe:
    """Format and first start (log recovery after a crash) may take minutes: 10 s x 60."""
    return Probe(
        port=port,
        exec_command=("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"),
        initial_delay_seconds=5,
        period_seconds=10,
        timeout_seconds=5,
        failure_threshold=60,
    )


def _secret_files(secrets: NodeSecrets) -> tuple[SecretFile, ...]:
    files = [SecretFile(path=CLUSTER_ID_FILE, content=secrets.cluster_id)]
    optional = (
        (SCRAM_FILE, secrets.scram_credential),
        (PATHS.keystore, secrets.keystore_pem),
        (PATHS.truststore, secrets.ca_pem),
        (ADMIN_CLIENT_FILE, secrets.admin_client_properties),
        (ADMIN_HOST_FILE, secrets.admin_host),
    )
    files += [SecretFile(path=path, content=c) for path, c in optional if c is not None]
    return tuple(files)


@dataclass(frozen=True, kw_only=True)
class PoolSpec:
    """What differs between the broker and the controller pool."""

    identity: WorkloadIdentity
    pool: NodePoolSettings
    configs: Mapping[int, str]
    """Rendered server.properties by ordinal."""
    ports: tuple[Port, ...]
    probe_port: int
    connections: tuple[Connection, ...]
    classification: str
    grace_seconds: int


def node_workload(settings: KafkaSettings, spec: PoolSpec, secrets: NodeSecrets) -> Workload:
    """One pool of nodes: stateful, a data volume each, config and secrets as files."""
    script = start_script(
        settings, replicas=spec.pool.replicas, admin_host_file=secrets.admin_host is not None
    )
    return Workload(
        identity=spec.identity,
        kind=WorkloadKind.STATEFUL,
        image=settings.image,
        command=("sh", "-c", script),
        ports=spec.ports,
        env={
            "KAFKA_HEAP_OPTS": heap_options(spec.pool),
            "LOG_DIR": f"{SCRATCH}/logs",
            "HOME": SCRATCH,
        },
        config_files=tuple(
            ConfigFile(path=node_config_path(ordinal), content=text)
            for ordinal, text in sorted(spec.configs.items())
        ),
        secret_files=_secret_files(secrets),
        volumes=(Volume(name="data", mount_path=DATA_MOUNT, size=spec.pool.volume_size),),
        # The JVM unpacks native compression codecs into its temp dir and loads them.
        scratch=(ScratchDir(name="tmp", mount_path=SCRATCH, size_limit="1Gi", executable=True),),
        resources=spec.pool.resources.to_resources(),
        readiness=port_probe(spec.probe_port),
        liveness=port_probe(spec.probe_port, delay=30),
        startup=startup_probe(spec.probe_port),
        termination_grace_period_seconds=spec.grace_seconds,
        connections=spec.connections,
        replicas=spec.pool.replicas,
        security=SecurityProfile(run_as_user=KAFKA_UID, run_as_group=KAFKA_UID, fs_group=KAFKA_UID),
        data_classification=spec.classification,
    )
