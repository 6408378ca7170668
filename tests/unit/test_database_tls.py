"""Every consumer of PostgreSQL verifies the server it connects to, in every TLS stack.

`sslmode=require` encrypts but accepts any certificate, so a man in the middle inside the
cluster network would be taken for the server. Each workload that opens the server's
port must connect with `sslmode=verify-full`, `sslrootcert` naming a file whose content
is the server's certificate (its own trust anchor: self-signed), and a host name the
certificate lists in its `dns_names` (verify-full checks it). The workloads are recorded
as the program hands them to the runtime, with every file's content resolved (secret
files included), so the check reads exactly what the containers would read, whoever
renders it (JDBC URL, libpq conninfo, `dagster.yaml`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from components.runtime.docker import DockerRuntime
from components.runtime.kubernetes import KubernetesRuntime
from components.runtime.workload import Workload
from ops.render import Render, render_stack
from tests.conftest import KUBERNETES_STACKS

SERVER = ("postgres", "server")
CONSUMERS = {
    "trino-coordinator",
    "marquez-api",
    "dagster-webserver",
    "dagster-daemon",
    "dagster-code-pipelines",
    "postgres-iceberg-catalog",
}
"""Workloads that must be found connecting (so the test cannot pass on an empty set)."""

SSLMODE = re.compile(r"\bsslmode\s*[=:]\s*([a-z-]+)")
SSLROOTCERT = re.compile(r"\bsslrootcert\s*[=:]\s*([^\s&\"';]+)")
HOSTS = (
    re.compile(r"jdbc:postgresql://([^:/?]+)"),  # pgjdbc URL (Trino catalogs, Marquez)
    re.compile(r"\bhost=([^\s\"']+)"),  # libpq conninfo (psql in the SQL job)
    re.compile(r"\bhostname:\s*(\S+)"),  # dagster.yaml postgres_db
)


@dataclass
class Seen:
    """One workload as deployed, with each file's content once resolved (path -> text)."""

    workload: Workload
    files: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Everything the container reads at start: its files, command and init steps."""
        commands = [self.workload.command, *(step.command for step in self.workload.init)]
        return "\n".join([*self.files.values(), *(" ".join(c) for c in commands)])

    def resolve(self, path: str) -> str | None:
        """The content at `path`: a file of the workload, or the copy its start command
        makes of one (`cat SOURCE > path`)."""
        if path in self.files:
            return self.files[path]
        copied = re.search(rf"cat (\S+) > {re.escape(path)}\b", self.text)
        return self.files.get(copied.group(1)) if copied else None


def _recorded(stack: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Render, dict[str, Seen]]:
    """The stack's render and every workload the program deployed, by identity name."""
    seen: dict[str, Seen] = {}
    for runtime in (DockerRuntime, KubernetesRuntime):
        original = runtime.deploy

        def deploy(self: Any, workload: Workload, *, _original: Any = original, **kw: Any) -> Any:
            entry = Seen(workload, {f.path: f.content for f in workload.config_files})
            seen[workload.identity.name] = entry
            for secret in workload.secret_files:
                secret.content.apply(
                    lambda value, p=secret.path, e=entry: e.files.update({p: value})
                )
            return _original(self, workload, **kw)

        monkeypatch.setattr(runtime, "deploy", deploy)
    return render_stack(stack), seen


def _consumers(seen: dict[str, Seen]) -> dict[str, Seen]:
    """The workloads that open the server's port (the server itself aside)."""
    return {
        name: entry
        for name, entry in seen.items()
        if any((c.service, c.component) == SERVER for c in entry.workload.connections)
        and (entry.workload.identity.service, entry.workload.identity.component) != SERVER
    }


def _server_certificate(render: Render, stack: str) -> tuple[str, set[str]]:
    """The server certificate's PEM (the mocks' value) and its DNS names."""
    name = f"dp-{stack}-postgres-tls-cert"
    cert = render.named(name)
    return f"mock-certificate-{name}", set(cert["inputs"]["dnsNames"])


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_every_database_consumer_verifies_the_server_certificate_and_host(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    render, seen = _recorded(stack, monkeypatch)
    pem, dns_names = _server_certificate(render, stack)
    consumers = _consumers(seen)
    assert set(consumers) >= CONSUMERS
    for name, entry in consumers.items():
        text = entry.text
        modes = SSLMODE.findall(text)
        assert modes and set(modes) == {"verify-full"}, (name, modes)
        roots = SSLROOTCERT.findall(text)
        assert roots, name
        for root in roots:
            assert entry.resolve(root) == pem, (name, root)
        hosts = {host for pattern in HOSTS for host in pattern.findall(text)}
        assert hosts, name
        assert hosts <= dns_names, (name, hosts - dns_names)


def test_dev_has_no_tls_and_consumers_connect_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    render, seen = _recorded("dev", monkeypatch)
    certificates = render.of_type("tls:index/selfSignedCert:SelfSignedCert")
    assert not [c for c in certificates if "postgres" in c["name"]]
    consumers = _consumers(seen)
    assert set(consumers) >= CONSUMERS
    for name, entry in consumers.items():
        modes = SSLMODE.findall(entry.text)
        assert set(modes) <= {"disable"}, (name, modes)
        assert not SSLROOTCERT.findall(entry.text), name


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_the_server_certificate_names_the_host_consumers_are_given(stack: str) -> None:
    """The DNS names of the generated certificate include the in-platform host of the
    server (what `database_access` hands out) and its short name."""
    render = render_stack(stack)
    _, dns_names = _server_certificate(render, stack)
    namespace = f"dp-{stack}"
    assert f"postgres-server.{namespace}.svc.cluster.local" in dns_names
    assert "postgres-server" in dns_names
