"""The MinIO server workload: credentials as files, TLS with a generated certificate."""

from __future__ import annotations

from collections.abc import Iterable

import pulumi

from components.common import AdminEndpoint, DataClassification, image_version
from components.object_store.settings import ObjectStoreSettings
from components.runtime.base import Runtime
from components.runtime.workload import (
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
from components.tls import ServerCertificate, generated_certificate

API_PORT = 9000
CONSOLE_PORT = 9001
SECRETS_DIR = "/run/secrets/minio"
ROOT_USER_FILE = f"{SECRETS_DIR}/root-user"
ROOT_PASSWORD_FILE = f"{SECRETS_DIR}/root-password"
TLS_DIR = "/etc/minio/tls"
CERTS_DIR = "/tmp/certs"


def server_identity(settings: ObjectStoreSettings) -> WorkloadIdentity:
    """Who the MinIO server is (its image tag is its version)."""
    return WorkloadIdentity(
        service="minio", component="server", version=image_version(settings.image)
    )


def server_certificate(
    name: str,
    settings: ObjectStoreSettings,
    runtime: Runtime,
    admin: AdminEndpoint | None,
    *,
    parent: pulumi.Resource,
) -> ServerCertificate | None:
    """A server certificate for every name the server is reached by, when TLS is on."""
    if not settings.tls:
        return None
    identity = server_identity(settings)
    internal = runtime.internal_host(identity)
    return generated_certificate(
        name,
        common_name=internal,
        dns_names=[
            internal,
            identity.base_name,
            "localhost",
            *([admin.host] if admin else []),
        ],
        parent=parent,
    )


def server_workload(
    settings: ObjectStoreSettings,
    admin: AdminEndpoint | None,
    certificate: ServerCertificate | None,
    *,
    root_user: pulumi.Output[str],
    root_password: pulumi.Output[str],
) -> Workload:
    """The MinIO server: root credentials and certificate as files, probes via `mc ready`."""
    secret_files = [
        SecretFile(path=ROOT_USER_FILE, content=root_user),
        SecretFile(path=ROOT_PASSWORD_FILE, content=root_password),
    ]
    if certificate is not None:
        secret_files += [
            SecretFile(path=f"{TLS_DIR}/public.crt", content=certificate.cert_pem),
            SecretFile(path=f"{TLS_DIR}/private.key", content=certificate.key_pem),
        ]
    probe_cmd = ("mc", "ready", "local", *(("--insecure",) if certificate else ()))
    scheme = "https" if certificate else "http"
    return Workload(
        identity=server_identity(settings),
        kind=WorkloadKind.STATEFUL,
        image=settings.image,
        command=("/bin/sh", "-c", start_script(tls=certificate is not None), "minio"),
        args=(
            "server",
            "/data",
            "--address",
            f":{API_PORT}",
            "--console-address",
            f":{CONSOLE_PORT}",
            *(("--certs-dir", CERTS_DIR) if certificate else ()),
        ),
        ports=(
            Port(
                name="api",
                container_port=API_PORT,
                admin_host_port=admin.port if admin else API_PORT,
            ),
            Port(name="console", container_port=CONSOLE_PORT),
        ),
        env={
            "MINIO_BROWSER_REDIRECT": "off",
            "HOME": "/tmp",
            "MC_CONFIG_DIR": "/tmp/.mc",
            # `mc ready local` reads its alias from here: the server's own scheme.
            "MC_HOST_local": f"{scheme}://127.0.0.1:{API_PORT}",
            "MINIO_ROOT_USER_FILE": ROOT_USER_FILE,
            "MINIO_ROOT_PASSWORD_FILE": ROOT_PASSWORD_FILE,
        },
        secret_files=tuple(secret_files),
        volumes=(Volume(name="data", mount_path="/data", size=settings.volume_size),),
        scratch=(ScratchDir(name="tmp", mount_path="/tmp"),),
        resources=settings.resources.to_resources(),
        readiness=Probe(port=API_PORT, path="/minio/health/ready", exec_command=probe_cmd),
        liveness=Probe(port=API_PORT, path="/minio/health/live", exec_command=probe_cmd),
        startup=Probe(
            port=API_PORT,
            exec_command=probe_cmd,
            initial_delay_seconds=5,
            period_seconds=5,
            failure_threshold=60,
        ),
        security=SecurityProfile(
            run_as_user=settings.run_as_user,
            run_as_group=settings.run_as_user,
            fs_group=settings.run_as_user,
        ),
        data_classification=_highest(b.classification for b in settings.buckets),
    )


def start_script(*, tls: bool) -> str:
    """The shell run before `minio server` (`"$@"`): refuse to start without credentials.

    MinIO ignores a missing `MINIO_ROOT_*_FILE` and starts with the well-known default
    credentials (minioadmin); this script makes that impossible. With TLS, it copies the
    certificate from its read-only secret mount into a private certs dir that MinIO
    may write to (it creates `CAs/` there) with the key readable by the server only.
    """
    lines = [
        "set -eu",
        'for f in "$MINIO_ROOT_USER_FILE" "$MINIO_ROOT_PASSWORD_FILE"; do',
        '  if [ ! -s "$f" ]; then',
        '    echo "minio: secret file $f is missing or empty; refusing to start" >&2',
        "    exit 1",
        "  fi",
        "done",
    ]
    if tls:
        lines += [
            f"mkdir -p {CERTS_DIR}/CAs",
            f"cp {TLS_DIR}/public.crt {TLS_DIR}/private.key {CERTS_DIR}/",
            f"chmod 0600 {CERTS_DIR}/private.key",
        ]
    lines.append('exec minio "$@"')
    return "\n".join(lines) + "\n"


def _highest(classifications: Iterable[DataClassification]) -> str:
    """The most sensitive classification among the buckets: what the server's volume holds."""
    order = list(DataClassification)
    return max(classifications, key=order.index, default=DataClassification.INTERNAL).value
