"""Real Kafka (KRaft) nodes on loopback, started from the component's rendered server.properties.

The jars come from Maven Central (scripts/install-kafka.sh, run here when the cache is
missing); each node is `java -cp 'libs/*' kafka.Kafka server.properties` after
`kafka.tools.StorageTool format`. Kafka 4.x classes target Java 17, the default `java`.

THE ONE PLACE where rendered config meets this machine is `loopback_layout`: every node's
advertised host becomes 127.0.0.1, listeners bind 127.0.0.1, each node gets its own free
ports, and every broker advertises its ADMIN listener at one `RoundRobinProxy` on
loopback, which stands for the admin load balancer (a connection goes to any broker, as
through the Kubernetes Service the component creates). The prod shape runs as rendered:
three broker processes beside a three-process controller quorum (six JVMs at 256 MiB
heap start in about 25 s on two cores). Paths (data dir, PEM files) are renderer
parameters, not substitutions. Everything else in the files is the component's renderer
output (`server_properties`, the function its ConfigMaps hold the output of), byte for byte.
TLS material is made the way the component makes it: one self-signed node certificate
(CN = the node principal, server and client use) that is also the trust anchor.

Processes are always stopped at teardown (SIGTERM, then SIGKILL after a bounded wait).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # the documented path; re-exported without __all__
    AdminClient,
    TopicMetadata,  # pyright: ignore[reportPrivateImportUsage]
)
from confluent_kafka.cimpl import NewTopic

from components.kafka.files import (
    ADMIN,
    ClusterLayout,
    KafkaPaths,
    NodeAddress,
    admin_uses_scram,
    cluster_layout,
    scram_credential,
    security_protocols,
    server_properties,
    topic_specs,
)
from components.kafka.settings import KAFKA_VERSION, ClientAuthentication, KafkaSettings
from components.kafka.workloads import format_arguments
from tests.support.kafka_stacks import stack_kafka_settings as stack_kafka_settings

REPO = Path(__file__).resolve().parents[2]
KAFKA_HOME = Path(
    os.environ.get(
        "KAFKA_HOME",
        Path(os.environ.get("DATAPLATFORM_CACHE", Path.home() / ".cache/dataplatform"))
        / f"kafka-{KAFKA_VERSION}",
    )
)
JAVA = os.environ.get("KAFKA_JAVA", "java")
HEAP_MB = 256  # per node: 2 cores / 24 GiB shared with other tests
START_TIMEOUT = 120.0  # seconds for a cluster to register every broker
STOP_TIMEOUT = 20.0
JVM_FLAGS = (
    "-XX:+UseSerialGC",  # one GC thread: six JVMs share two cores
    "-XX:TieredStopAtLevel=1",  # C1 only: faster start, enough for test traffic
    "-Djava.awt.headless=true",
)
LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.node.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka-request.name = kafka.request.logger
logger.kafka-request.level = WARN
"""


CLIENT_LOG = logging.getLogger("kafka-client")


class Unavailable(Exception):
    """Java or the Kafka jars are not available here."""


def check_available() -> None:
    """Fetch the jars when missing (bounded); raise `Unavailable` if Java or the jars fail."""
    if shutil.which(JAVA) is None:
        raise Unavailable(f"{JAVA!r} not found (Java 17+ is needed)")
    if not (KAFKA_HOME / "libs").is_dir():
        try:
            subprocess.run(
                ["bash", str(REPO / "scripts/install-kafka.sh")],
                check=True,
                capture_output=True,
                timeout=900,
                env={**os.environ, "KAFKA_HOME": str(KAFKA_HOME)},
            )
        except (subprocess.SubprocessError, OSError) as error:
            raise Unavailable(f"scripts/install-kafka.sh failed: {error}") from error
    if not any((KAFKA_HOME / "libs").glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        raise Unavailable(f"no kafka_2.13-{KAFKA_VERSION}.jar in {KAFKA_HOME / 'libs'}")


def require_kafka() -> None:
    """Skip the calling test when Kafka cannot run here, but fail under CI (`CI` set)."""
    import pytest

    try:
        check_available()
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run Kafka: {reason}")
        pytest.skip(str(reason))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_layout(settings: KafkaSettings, admin_proxy_port: int) -> ClusterLayout:
    """The cluster's layout moved onto loopback (see the module docstring: the ONE place).

    Node ids and roles come from the component's `cluster_layout`; only the hosts, the
    ports (a free one per node and listener) and the bind address change; every broker
    advertises ADMIN at 127.0.0.1:`admin_proxy_port` (the load balancer's stand-in).
    """
    layout = cluster_layout(
        settings,
        broker_host=lambda _: "127.0.0.1",
        controller_host=lambda _: "127.0.0.1",
        admin_advertised=lambda _: f"127.0.0.1:{admin_proxy_port}",
    )
    moved: dict[int, NodeAddress] = {
        node_id: replace(
            layout.node(node_id),
            client_port=_free_port(),
            internal_port=_free_port(),
            controller_port=_free_port(),
            admin_port=_free_port() if layout.node(node_id).admin_port else None,
        )
        for node_id in layout.node_ids
    }
    return ClusterLayout(
        brokers=tuple(moved[a.node_id] for a in layout.brokers),
        controllers=tuple(moved[a.node_id] for a in layout.controllers),
        bind_host="127.0.0.1",
    )


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd, timeout=60)


def make_tls_files(directory: Path, node_principal: str) -> KafkaPaths:
    """The nodes' TLS files as components/kafka/certificates.py makes them: one self-signed
    ECDSA P-256 certificate (CN=`node_principal`, O=data-platform, server and client use,
    SANs localhost and 127.0.0.1) with a PKCS#8 key; the certificate is also `ca.crt`.

    It serves every listener and is the client certificate between nodes (mutual TLS).
    """
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/CN={node_principal}/O=data-platform", "-days", "1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext", "extendedKeyUsage=serverAuth,clientAuth",
        "-addext", "keyUsage=critical,digitalSignature,keyAgreement",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-keyout", "node.key", "-out", "ca.crt", cwd=directory,
    )  # fmt: skip
    key = (directory / "node.key").read_text()
    assert key.startswith("-----BEGIN PRIVATE KEY-----"), "Kafka's PEM key store wants PKCS#8"
    keystore = directory / "node-keystore.pem"
    keystore.write_text(key + (directory / "ca.crt").read_text())
    keystore.chmod(0o600)
    return KafkaPaths(keystore=str(keystore), truststore=str(directory / "ca.crt"))


class RoundRobinProxy:
    """A TCP load balancer on loopback: each new connection goes to the next upstream port.

    Stands for the admin load balancer in front of every broker's ADMIN listener; counts
    connections per upstream, so a test can see that requests reached several brokers.
    """

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port: int = self._server.getsockname()[1]
        self.upstreams: list[int] = []
        self.connections: dict[int, int] = {}
        self._closed = threading.Event()

    def start(self, upstreams: list[int]) -> None:
        """Forward to `upstreams` in turn, from a daemon thread."""
        self.upstreams = upstreams
        self.connections = dict.fromkeys(upstreams, 0)
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        """Stop accepting (open connections end with their peers)."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()

    def _serve(self) -> None:
        turn = itertools.cycle(self.upstreams)
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = next(turn)
            self.connections[upstream] += 1
            threading.Thread(target=self._bridge, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _bridge(client: socket.socket, port: int) -> None:
        try:
            server = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)

        def pump(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := source.recv(65536):
                    sink.sendall(data)
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(server, client), daemon=True).start()
        pump(client, server)


@dataclass
class KafkaNode:
    """One node's files and, while it runs, its process."""

    node_id: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        """The rendered server.properties this node runs."""
        return self.directory / "server.properties"

    @property
    def log(self) -> Path:
        """The broker's log4j log."""
        return self.directory / "node.log"


@dataclass
class KafkaCluster:
    """A running cluster: its settings, loopback layout, nodes and the admin's credentials."""

    settings: KafkaSettings
    layout: ClusterLayout
    directory: Path
    paths: KafkaPaths
    admin_password: str
    admin_proxy: RoundRobinProxy
    cluster_id: str = ""
    nodes: dict[int, KafkaNode] = field(default_factory=dict[int, KafkaNode])
    startup_seconds: float = 0.0

    @property
    def admin_bootstrap(self) -> str:
        """Where the topic provider connects: the admin load balancer's stand-in."""
        return f"127.0.0.1:{self.admin_proxy.port}"

    def admin_path_config(self, **overrides: Any) -> dict[str, Any]:
        """confluent-kafka settings of the topic provider's path: the ADMIN listener behind
        the load balancer, as the admin user (SCRAM wherever clients authenticate)."""
        protocol = security_protocols(self.settings)[ADMIN]
        config: dict[str, Any] = {
            "bootstrap.servers": self.admin_bootstrap,
            "security.protocol": protocol,
            "logger": CLIENT_LOG,
        }
        if admin_uses_scram(self.settings):
            config |= {
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": self.settings.admin_user,
                "sasl.password": self.admin_password,
            }
        if self.settings.listeners.tls:
            config["ssl.ca.location"] = self.paths.truststore
        return config | overrides

    def admin_path(self, **overrides: Any) -> AdminClient:
        """An admin client on the topic provider's path (`admin_path_config`)."""
        return AdminClient(self.admin_path_config(**overrides))

    @property
    def bootstrap_servers(self) -> str:
        """The client listener of every broker."""
        return ",".join(f"{a.host}:{a.client_port}" for a in self.layout.brokers)

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """confluent-kafka settings for the admin user on the client listener."""
        listeners = self.settings.listeners
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            # librdkafka's own log lines go through Python logging (pytest shows them on failure).
            "logger": CLIENT_LOG,
        }
        if listeners.client_authentication is ClientAuthentication.SCRAM_SHA_512:
            config |= {
                "security.protocol": "SASL_SSL" if listeners.tls else "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": self.settings.admin_user,
                "sasl.password": self.admin_password,
            }
        elif listeners.tls:
            config["security.protocol"] = "SSL"
        if listeners.tls:
            config["ssl.ca.location"] = self.paths.truststore
            if listeners.client_authentication is ClientAuthentication.MTLS:
                config |= {
                    "ssl.certificate.location": self.paths.keystore,
                    "ssl.key.location": self.paths.keystore,
                }
        return {k: v for k, v in (config | overrides).items() if v is not None}

    def admin(self, **overrides: Any) -> AdminClient:
        """An admin client as the admin user (or as `overrides` say)."""
        return AdminClient(self.client_config(**overrides))

    def start(self, node_id: int) -> None:
        """Start node `node_id` (its storage is already formatted)."""
        node = self.nodes[node_id]
        out = (node.directory / "stdout.log").open("ab")
        node.process = subprocess.Popen(
            [
                JAVA, f"-Xms{HEAP_MB}m", f"-Xmx{HEAP_MB}m", *JVM_FLAGS,
                f"-Dlog4j2.configurationFile={self.directory / 'log4j2.properties'}",
                f"-Dkafka.node.log={node.log}",
                "-cp", str(KAFKA_HOME / "libs" / "*"), "kafka.Kafka", str(node.config),
            ],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        out.close()

    def stop(self, node_id: int) -> None:
        """Stop node `node_id`: SIGTERM (a controlled shutdown), SIGKILL after a bound."""
        process = self.nodes[node_id].process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    def stop_brokers(self, node_ids: list[int]) -> None:
        """Stop these brokers together (SIGTERM to all first: controlled shutdowns overlap)."""
        for node_id in node_ids:
            process = self.nodes[node_id].process
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for node_id in node_ids:
            self.stop(node_id)

    def stop_all(self) -> None:
        """Stop every node: all brokers at once, then the controllers (bounded waits)."""
        brokers = [a.node_id for a in self.layout.brokers]
        self.stop_brokers(brokers)
        self.stop_brokers([n for n in self.nodes if n not in brokers])

    def wait_for_brokers(self, broker_ids: set[int], timeout: float = START_TIMEOUT) -> None:
        """Wait until the cluster's metadata lists exactly `broker_ids` (bounded)."""
        deadline = time.monotonic() + timeout
        admin = self.admin()
        seen: set[int] = set()
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                metadata = admin.list_topics(timeout=5)
                seen = set(metadata.brokers)
                if seen == broker_ids:
                    return
            except KafkaException:  # not up yet; the deadline bounds the loop
                pass
            time.sleep(0.5)
        raise AssertionError(
            f"brokers {sorted(broker_ids)} not all registered after {timeout}s (saw "
            f"{sorted(seen)}); logs in {self.directory}"
        )

    def _check_alive(self) -> None:
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is not None:
                tail = (node.directory / "stdout.log").read_text(errors="replace")[-2000:]
                log = node.log.read_text(errors="replace")[-3000:] if node.log.exists() else ""
                raise AssertionError(
                    f"kafka node {node.node_id} exited with {node.process.returncode}:\n"
                    f"{tail}\n{log}"
                )

    def create_topics(self) -> None:
        """Create every declared topic with its config map, as the provider does: through
        the ADMIN listener behind the load balancer, as the admin user."""
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor, config=s.config)
            for s in topic_specs(self.settings)
        ]
        admin = self.admin_path()  # keep a reference: a collected client cancels its futures
        for future in admin.create_topics(new, operation_timeout=30).values():
            future.result(timeout=60)
        for spec in topic_specs(self.settings):
            self.wait_for_topic(spec.name, spec.partitions)

    def wait_for_topic(self, name: str, partitions: int, timeout: float = 60.0) -> TopicMetadata:
        """A created topic's metadata once every broker-visible partition has a leader.

        Creation returns when the controller commits it; brokers learn it a moment later.
        """
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topic = admin.list_topics(name, timeout=10).topics.get(name)
            if (
                topic is not None
                and topic.error is None
                and len(topic.partitions) == partitions
                and all(p.leader >= 0 for p in topic.partitions.values())
            ):
                return topic
            time.sleep(0.3)
        raise AssertionError(f"topic {name} not visible with {partitions} partitions in {timeout}s")


def format_command(cluster: KafkaCluster, node: KafkaNode, cluster_id: str) -> list[str]:
    """`StorageTool` with the arguments the pods' start script passes `kafka-storage.sh`
    (`workloads.format_arguments`: `--ignore-formatted`, the admin's `--add-scram`)."""
    return [
        JAVA, f"-Xmx{HEAP_MB}m", *JVM_FLAGS, "-cp", str(KAFKA_HOME / "libs" / "*"),
        "kafka.tools.StorageTool",
        *format_arguments(
            cluster.settings,
            cluster_id=cluster_id,
            config=str(node.config),
            scram=scram_credential(cluster.settings.admin_user, cluster.admin_password),
        ),
    ]  # fmt: skip


def _format_all(cluster: KafkaCluster, cluster_id: str) -> None:
    """`StorageTool format` on every node, in parallel (each is a short JVM run; bounded)."""
    runs: list[tuple[int, subprocess.Popen[bytes]]] = []
    for node_id, node in cluster.nodes.items():
        command = format_command(cluster, node, cluster_id)
        log = (node.directory / "format.log").open("wb")
        runs.append((node_id, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)))
        log.close()
    failed = []
    for node_id, process in runs:
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(timeout=STOP_TIMEOUT)
        if code != 0:
            failed.append(node_id)
    if failed:
        logs = {n: (cluster.nodes[n].directory / "format.log").read_text()[-1500:] for n in failed}
        raise AssertionError(f"kafka-storage format failed on nodes {failed}: {logs}")


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def dash_cluster_id() -> str:
    """A valid cluster id that starts with `-` (one random id in 64 does)."""
    raw = bytes([0xF8]) + uuid.uuid4().bytes[1:]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@contextlib.contextmanager
def running_cluster(
    settings: KafkaSettings, cluster_id: str | None = None
) -> Iterator[KafkaCluster]:
    """Format and start every node of `settings` on loopback; stop all of them afterwards.

    `cluster_id`: the one to format with (default: a new random one)."""
    check_available()
    directory = Path(tempfile.mkdtemp(prefix="kafka-"))
    (directory / "log4j2.properties").write_text(LOG4J2)
    proxy = RoundRobinProxy()
    layout = loopback_layout(settings, proxy.port)
    proxy.start([a.admin_port for a in layout.brokers if a.admin_port is not None])
    tls = make_tls_files(directory / "tls", settings.node_principal)
    cluster = KafkaCluster(
        settings=settings,
        layout=layout,
        directory=directory,
        paths=tls,
        admin_password=uuid.uuid4().hex,
        admin_proxy=proxy,
    )
    cluster_id = cluster.cluster_id = cluster_id or new_cluster_id()
    try:
        for node_id in layout.node_ids:
            node = KafkaNode(node_id, directory / f"node-{node_id}")
            node.directory.mkdir()
            paths = replace(tls, data_dir=str(node.directory / "data"))
            node.config.write_text(server_properties(settings, layout, node_id, paths))
            cluster.nodes[node_id] = node
        _format_all(cluster, cluster_id)
        started = time.monotonic()
        for node_id in layout.node_ids:
            cluster.start(node_id)
        cluster.wait_for_brokers({a.node_id for a in layout.brokers})
        cluster.startup_seconds = time.monotonic() - started
        yield cluster
    finally:
        cluster.stop_all()
        proxy.close()
        if os.environ.get("KEEP_KAFKA_CLUSTER") != "1":
            shutil.rmtree(directory, ignore_errors=True)
