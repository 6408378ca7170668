"""The PostgreSQL workloads: the server (stateful) and a SQL job (run once per change).

Pure specs (`Workload`, components/runtime/workload.py); the runtime renders them as
Kubernetes or Docker resources. Both run the server's image with its non-root uid.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.common import AdminEndpoint
from components.postgres.paths import (
    CERT_FILE,
    CONFIG_DIR,
    DATA_MOUNT,
    JOB_CA_FILE,
    JOB_PASSWORD_FILE,
    JOB_SQL_FILE,
    KEY_SOURCE,
    PASSWORD_FILE,
    PGDATA,
    SOCKET_DIR,
)
from components.postgres.scripts import sql_job_script, start_script
from components.postgres.server_config import DEFAULT_PORT
from components.postgres.settings import PostgresSettings
from components.runtime.workload import (
    ConfigFile,
    Connection,
    Port,
    Probe,
    Resources,
    ScratchDir,
    SecretFile,
    SecurityProfile,
    Volume,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from components.tls import ServerCertificate

JOB_RESOURCES = Resources(
    cpu_request="50m", cpu_limit="500m", memory_request="64Mi", memory_limit="256Mi"
)
"""What a SQL job may use: psql applying a few idempotent statements."""

JOB_UID = 10026
"""The SQL job's uid: high, unused by any host account, unrelated to the server's."""


def server_workload(
    identity: WorkloadIdentity,
    settings: PostgresSettings,
    *,
    admin: AdminEndpoint | None,
    superuser_password: pulumi.Output[str],
    certificate: ServerCertificate | None,
) -> Workload:
    """The server: one volume, the rendered config files, the superuser password and TLS
    files as secret files, probed with `pg_isready`."""
    secret_files = [SecretFile(path=PASSWORD_FILE, content=superuser_password)]
    if certificate is not None:
        secret_files += [
            SecretFile(path=CERT_FILE, content=certificate.cert_pem),
            SecretFile(path=KEY_SOURCE, content=certificate.key_pem),
        ]
    probe_cmd = ("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(DEFAULT_PORT))
    probe = Probe(port=DEFAULT_PORT, exec_command=probe_cmd, initial_delay_seconds=15)
    port = Port(
        name="postgres",
        container_port=DEFAULT_PORT,
        admin_host_port=admin.port if admin else DEFAULT_PORT,
    )
    return Workload(
        identity=identity,
        kind=WorkloadKind.STATEFUL,
        image=settings.image,
        command=("sh", "-c", start_script(settings)),
        ports=(port,),
        env={"PGDATA": PGDATA, "HOME": "/tmp"},
        config_files=(
            ConfigFile(
                path=f"{CONFIG_DIR}/postgresql.conf",
                content=settings.postgresql_conf(settings.container_paths()),
            ),
            ConfigFile(path=f"{CONFIG_DIR}/pg_hba.conf", content=settings.pg_hba_conf()),
        ),
        secret_files=tuple(secret_files),
        volumes=(Volume(name="data", mount_path=DATA_MOUNT, size=settings.volume_size),),
        scratch=(
            ScratchDir(name="run", mount_path=SOCKET_DIR, size_limit="16Mi"),
            ScratchDir(name="tmp", mount_path="/tmp"),
        ),
        resources=settings.resources.to_resources(),
        readiness=probe,
        liveness=probe,
        security=SecurityProfile(
            run_as_user=settings.run_as_user,
            run_as_group=settings.run_as_user,
            fs_group=settings.run_as_user,
        ),
        data_classification=settings.classification.value,
    )


def sql_job_workload(
    server: WorkloadIdentity,
    settings: PostgresSettings,
    *,
    job: str,
    conninfo: str,
    statements: Sequence[str],
    password: pulumi.Output[str],
    ca_certificate: pulumi.Output[str] | None = None,
) -> Workload:
    """A job named `job` applying `statements` (each terminated by `;`) over `conninfo`
    with `password` from a secret file (and the server's trust anchor at `JOB_CA_FILE`
    when given, for `sslrootcert`); it may open only the server's port."""
    secret_files = [SecretFile(path=JOB_PASSWORD_FILE, content=password)]
    if ca_certificate is not None:
        secret_files.append(SecretFile(path=JOB_CA_FILE, content=ca_certificate))
    return Workload(
        identity=WorkloadIdentity(service=server.service, component=job, version=server.version),
        kind=WorkloadKind.JOB,
        image=settings.image,
        command=("sh", "-c", sql_job_script(conninfo)),
        ports=(),
        env={"HOME": "/tmp"},
        config_files=(
            ConfigFile(path=JOB_SQL_FILE, content="".join(f"{st};\n" for st in statements)),
        ),
        secret_files=tuple(secret_files),
        scratch=(ScratchDir(name="tmp", mount_path="/tmp", size_limit="16Mi"),),
        connections=(
            Connection(service=server.service, component=server.component, port=DEFAULT_PORT),
        ),
        resources=JOB_RESOURCES,
        # A client only: it needs no uid of the server's, so it runs as a high one that
        # no host account uses (CIS: containers run as a high UID).
        security=SecurityProfile(run_as_user=JOB_UID, run_as_group=JOB_UID),
        active_deadline_seconds=600,
    )
