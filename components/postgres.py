"""PostgreSQL with pgaudit: the platform's metadata and warehouse database server.

Creates: the server workload (stateful, one persistent volume, generated superuser
password; the image's own `initdb` on an empty data directory, then `postgres` with the
rendered `postgresql.conf` and `pg_hba.conf`); a server certificate when TLS is required
(generated, or read from secret stack config); a pulumi-postgresql Provider built from
the admin endpoint and the superuser password, waiting for the server; and the access
model of `components/postgres_access.py`: the pgaudit extension, group roles, one owner
login per database, service logins, databases, schemas, grants and default privileges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Self

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random
from pydantic import Field, model_validator

from components.common import (
    AdminEndpoint,
    DataClassification,
    PinnedImage,
    ResourceSettings,
    VolumeSize,
    image_version,
)
from components.postgres_access import (
    ADMIN_DATABASE,
    AccessPlan,
    AccessSettings,
    access_plan,
    declare_plan,
    ident,
    scram_salt,
    scram_sha256_verifier,
)
from components.postgres_server_config import (
    DEFAULT_PORT,
    MINIMUM_AUDIT_CLASSES,
    AuditSettings,
    CertificateSource,
    ServerPaths,
    ServerTuning,
    TlsSettings,
    missing_audit_classes,
    render_pg_hba,
    render_postgresql_conf,
)
from components.runtime.base import Runtime
from components.runtime.stack import SettingsModel, StackSettings, Tier
from components.runtime.workload import (
    ConfigFile,
    Connection,
    Endpoint,
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
from components.secrets import generated_password
from components.tls import ServerCertificate, configured_certificate, generated_certificate

CONFIG_DIR = "/etc/postgresql/conf"
SECRET_DIR = "/etc/postgresql/secrets"
DATA_MOUNT = "/var/lib/postgresql/data"
PGDATA = f"{DATA_MOUNT}/pgdata"
SOCKET_DIR = "/var/run/postgresql"
PASSWORD_FILE = f"{SECRET_DIR}/superuser-password"
CERT_FILE = f"{SECRET_DIR}/tls.crt"
KEY_SOURCE = f"{SECRET_DIR}/tls.key"
# Projected/uploaded files are root-owned and group/world readable; PostgreSQL wants its
# key private to its own uid, so the start script copies it into the socket tmpfs 0600.
KEY_FILE = f"{SOCKET_DIR}/tls.key"
JOB_SQL_FILE = "/etc/postgresql/job/statements.sql"
JOB_PASSWORD_FILE = "/etc/postgresql/job-secrets/password"
JOB_RESOURCES = Resources(
    cpu_request="50m", cpu_limit="500m", memory_request="64Mi", memory_limit="256Mi"
)
CONTAINER_PATHS = ServerPaths(hba_file=f"{CONFIG_DIR}/pg_hba.conf", socket_dir=SOCKET_DIR)

RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]


class PostgresSettings(SettingsModel):
    """Server image and size, audit, TLS, tuning and the access model of one stack."""

    image: PinnedImage
    resources: ResourceSettings
    volume_size: VolumeSize
    classification: DataClassification = DataClassification.RESTRICTED
    admin_user: RoleName = "postgres"
    run_as_user: int = Field(default=26, ge=1)  # the CloudNativePG images' postgres uid
    audit: AuditSettings = AuditSettings()
    tls: TlsSettings = TlsSettings()
    server: ServerTuning = ServerTuning()
    access: AccessSettings

    @model_validator(mode="after")
    def _admin_is_not_a_platform_role(self) -> Self:
        names = {d.name for d in self.access.databases} | {x.name for x in self.access.logins}
        if self.admin_user in names:
            raise ValueError(f"adminUser {self.admin_user!r} clashes with a database/login role")
        return self

    def tier_problems(self, tier: Tier) -> list[str]:
        """What this stack's tier requires and these settings lack (key paths included)."""
        problems = []
        missing = missing_audit_classes(self.audit.classes, tier)
        if missing:
            problems.append(
                f"postgres.audit.classes: the {tier.value} tier must audit at least "
                f"{sorted(c.value for c in MINIMUM_AUDIT_CLASSES[tier])}; missing {missing}"
            )
        if tier is Tier.PROD and not self.tls.required:
            problems.append("postgres.tls.required: prod requires TLS for client connections")
        return problems

    def postgresql_conf(self, paths: ServerPaths) -> str:
        """The server's `postgresql.conf` with these settings and `paths`."""
        return render_postgresql_conf(
            audit=self.audit, tls=self.tls, tuning=self.server, paths=paths
        )

    def pg_hba_conf(self) -> str:
        """The server's `pg_hba.conf`."""
        return render_pg_hba(tls=self.tls, admin_user=self.admin_user)

    def container_paths(self) -> ServerPaths:
        """Paths inside the container (TLS files only when TLS is required)."""
        if not self.tls.required:
            return CONTAINER_PATHS
        return ServerPaths(
            hba_file=CONTAINER_PATHS.hba_file,
            socket_dir=SOCKET_DIR,
            ssl_cert_file=CERT_FILE,
            ssl_key_file=KEY_FILE,
        )


def admin_role_settings(settings: PostgresSettings) -> list[str]:
    """Statements applied to the admin role on every start: its failed statements are not
    echoed to the log (`log_min_error_statement = panic`), so a password typed in clear
    text into a failing CREATE/ALTER ROLE by a person never reaches it. The platform
    itself sends only SCRAM verifiers; pgaudit still audits what the admin runs, and the
    ERROR line (without the statement) is still logged."""
    return [f"ALTER ROLE {ident(settings.admin_user)} SET log_min_error_statement = 'panic';"]


def _require_file(path: str, what: str) -> list[str]:
    """Shell lines that stop the container, naming `path`, unless it exists and holds more
    than whitespace (grep is in every Debian-based image, CNPG's included)."""
    return [
        f"if ! grep -q '[^[:space:]]' \"{path}\" 2>/dev/null; then",
        f'  echo "postgres: {what} {path} is missing or empty; refusing to start" >&2',
        "  exit 1",
        "fi",
    ]


def start_script(settings: PostgresSettings) -> str:
    """The container's entrypoint (`sh -c`), for images without an initdb entrypoint (CNPG).

    1. Refuse to start, naming the file, when a secret file it needs is absent or empty
       (no fallback to a default or empty password; the image has none either).
    2. `initdb` an empty data directory, the superuser password read from the secret file
       (`--pwfile`), never from the environment.
    3. `chmod 0700 "$PGDATA"` on every start: with pod `fsGroup`, kubelet makes the volume
       group-writable (2770) on each mount and PostgreSQL refuses such a data directory
       ("invalid permissions", postmaster.c checkDataDir). The setgid bit stays; harmless.
    4. Copy the TLS key into the socket tmpfs as 0600, owned by the server's uid: secret
       volumes deliver it with the volume's mode and owner (Kubernetes projected 0440,
       Docker uploads 0444), and PostgreSQL refuses a key that others may read
       (be-secure-common.c: at most 0600 if the server owns it, 0640 if root does).
    5. Apply `admin_role_settings` in single-user mode (idempotent, before any client
       can connect), then `exec postgres` with the rendered configuration.
    """
    lines = ["set -eu", *_require_file(PASSWORD_FILE, "superuser password file")]
    if settings.tls.required:
        lines += _require_file(KEY_SOURCE, "TLS key file")  # the server checks the cert
    lines += [
        'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
        f'  initdb -D "$PGDATA" --username={settings.admin_user} --pwfile={PASSWORD_FILE}'
        " --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --no-locale"
        " --data-checksums",
        "fi",
        'chmod 0700 "$PGDATA"',
    ]
    if settings.tls.required:
        lines.append(f"install -m 0600 {KEY_SOURCE} {KEY_FILE}")
    options = f'-D "$PGDATA" -c config_file={CONFIG_DIR}/postgresql.conf'
    lines += [
        f"postgres --single {options} {ADMIN_DATABASE} >/dev/null <<'SQL'",
        *admin_role_settings(settings),
        "SQL",
        f"exec postgres {options}",
    ]
    return "\n".join(lines) + "\n"


def password_verifier(
    name: str, password: pulumi.Output[str], *, parent: pulumi.Resource
) -> pulumi.Output[str]:
    """The SCRAM-SHA-256 verifier of a role's `password`, as a secret Output.

    The salt comes from a random seed generated once (`<name>-scram-salt`) and kept in
    state, so the verifier is the same on every run (no perpetual diff) and changes
    with the password. The provider sends the verifier, never the password, in
    CREATE/ALTER ROLE; see docs/postgres.md "Passwords never reach the server log".
    """
    seed = random.RandomPassword(
        f"{name}-scram-salt", length=32, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    verifier = pulumi.Output.all(password, seed.result).apply(
        lambda values: scram_sha256_verifier(values[0], scram_salt(values[1]))
    )
    return pulumi.Output.secret(verifier)


class Postgres(pulumi.ComponentResource):
    """PostgreSQL server with pgaudit, its databases, roles and grants."""

    endpoint: Endpoint
    admin_user: str
    superuser_password: pulumi.Output[str]
    plan: AccessPlan
    databases: tuple[str, ...]
    plan_resources: dict[str, pulumi.Resource]

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: PostgresSettings,
        runtime: Runtime,
        admin: AdminEndpoint | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:storage:Postgres", name, None, opts)
        self._stack = stack
        self.admin_user = settings.admin_user
        self.superuser_password = generated_password(f"{name}-superuser-password", parent=self)
        self.plan = access_plan(settings.access)
        self.databases = tuple(d.name for d in settings.access.databases)
        self._passwords = {
            login: generated_password(f"{name}-{login}-password", parent=self)
            for login in self.plan.logins
        }
        identity = WorkloadIdentity(
            service="postgres", component="server", version=image_version(settings.image)
        )
        certificate = self._certificate(name, settings, runtime, identity, admin)
        workload = self._workload(identity, settings, admin, certificate)
        deployed = runtime.deploy(workload, parent=self)
        self._runtime, self._settings, self._identity = runtime, settings, identity
        self.endpoint = deployed.endpoint("postgres")
        # Reached from where `pulumi up` runs, through a way in the same deploy creates.
        address = runtime.control_plane_address(
            workload,
            deployed,
            port_name="postgres",
            parent=self,
            fixed_host=admin.host if admin else None,
        )
        provider = postgresql.Provider(
            f"{name}-provider",
            host=address.host,
            port=address.port,
            username=settings.admin_user,
            password=self.superuser_password,
            database="postgres",
            sslmode="require" if settings.tls.required else "disable",
            superuser=True,
            connect_timeout=30,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.plan_resources = declare_plan(
            name,
            self.plan,
            verifiers={
                login: password_verifier(f"{name}-{login}", password, parent=self)
                for login, password in self._passwords.items()
            },
            provider=provider,
            parent=self,
            protect=stack.is_prod,
            after=address.ready,
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "databases": sorted(d.name for d in settings.access.databases),
                "logins": list(self.plan.logins),
            }
        )

    def _certificate(
        self,
        name: str,
        settings: PostgresSettings,
        runtime: Runtime,
        identity: WorkloadIdentity,
        admin: AdminEndpoint | None,
    ) -> ServerCertificate | None:
        tls = settings.tls
        if not tls.required:
            return None
        if tls.certificate is CertificateSource.CONFIGURED:
            assert tls.cert_config_key and tls.key_config_key  # guaranteed by TlsSettings
            config = pulumi.Config()
            return configured_certificate(
                config.require_secret(tls.cert_config_key),
                config.require_secret(tls.key_config_key),
            )
        host = runtime.internal_host(identity)
        return generated_certificate(
            name,
            common_name=host,
            dns_names=[host, identity.base_name, *([admin.host] if admin else [])],
            parent=self,
        )

    def _workload(
        self,
        identity: WorkloadIdentity,
        settings: PostgresSettings,
        admin: AdminEndpoint | None,
        certificate: ServerCertificate | None,
    ) -> Workload:
        secret_files = [SecretFile(path=PASSWORD_FILE, content=self.superuser_password)]
        if certificate is not None:
            secret_files += [
                SecretFile(path=CERT_FILE, content=certificate.cert_pem),
                SecretFile(path=KEY_SOURCE, content=certificate.key_pem),
            ]
        probe_cmd = ("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(DEFAULT_PORT))
        probe = Probe(port=DEFAULT_PORT, exec_command=probe_cmd, initial_delay_seconds=15)
        return Workload(
            identity=identity,
            kind=WorkloadKind.STATEFUL,
            image=settings.image,
            command=("sh", "-c", start_script(settings)),
            ports=(
                Port(
                    name="postgres",
                    container_port=DEFAULT_PORT,
                    admin_host_port=admin.port if admin else DEFAULT_PORT,
                ),
            ),
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

    def credentials(self, database: str) -> tuple[str, pulumi.Output[str]]:
        """Owner role and (secret) password of one database, for that service only."""
        if database not in self.databases:
            raise KeyError(f"no database {database!r} declared")
        return database, self._passwords[database]

    def ready_for(
        self, *, databases: Sequence[str], logins: Sequence[str]
    ) -> list[pulumi.Resource]:
        """What a consumer must wait for before it starts: its login roles and databases.

        Grants are not among them: a consumer can start before they exist (it connects on
        use), and waiting for them would lengthen the deploy graph for nothing.
        Raises KeyError for a database or login this server does not declare.
        """
        keys = [f"role-{login}" for login in logins]
        keys += [f"role-{database}" for database in databases]
        keys += [f"db-{database}" for database in databases]
        return [self.plan_resources[key] for key in dict.fromkeys(keys)]

    def sql_job(
        self, job: str, *, database: str, login: str, statements: Sequence[str]
    ) -> pulumi.Resource:
        """Run idempotent SQL once per change, as `login` in `database` (a Job; Docker: one-shot).

        For what a consumer needs inside its database that no provider resource declares
        (e.g. the catalog tables of Trino's Iceberg JDBC catalog). The statements must be
        idempotent (`IF NOT EXISTS`): the job runs again whenever they change. The login's
        password reaches psql from a secret file, through the process env only; the job
        runs in the server's image (psql) with its non-root identity, and waits for the
        login and the database. Raises KeyError for an undeclared login or database.
        """
        if database not in self.databases:
            raise KeyError(f"no database {database!r} declared")
        settings = self._settings
        tls = settings.tls.required
        conninfo = (
            f"host={self.endpoint.host} "
            f"port={self.endpoint.port} dbname={database} user={login} "
            f"sslmode={'require' if tls else 'disable'} application_name={job}"
        )
        script = "\n".join(
            [
                "set -eu",
                f'PGPASSWORD="$(cat {JOB_PASSWORD_FILE})"',
                "export PGPASSWORD",
                f'exec psql "{conninfo}" -v ON_ERROR_STOP=1 -q -f {JOB_SQL_FILE}',
            ]
        )
        workload = Workload(
            identity=WorkloadIdentity(
                service=self._identity.service, component=job, version=self._identity.version
            ),
            kind=WorkloadKind.JOB,
            image=settings.image,
            command=("sh", "-c", script + "\n"),
            ports=(),
            env={"HOME": "/tmp"},
            config_files=(
                ConfigFile(path=JOB_SQL_FILE, content="".join(f"{st};\n" for st in statements)),
            ),
            secret_files=(SecretFile(path=JOB_PASSWORD_FILE, content=self._passwords[login]),),
            scratch=(ScratchDir(name="tmp", mount_path="/tmp", size_limit="16Mi"),),
            connections=(
                Connection(service=self._identity.service, component="server", port=DEFAULT_PORT),
            ),
            resources=JOB_RESOURCES,
            security=SecurityProfile(
                run_as_user=settings.run_as_user, run_as_group=settings.run_as_user
            ),
            active_deadline_seconds=600,
        )
        deployed = self._runtime.deploy(
            workload, parent=self, after=self.ready_for(databases=[database], logins=[login])
        )
        return deployed.resources[0]

    def login_credentials(self, login: str) -> tuple[str, pulumi.Output[str]]:
        """Role name and (secret) password of a declared service login."""
        return login, self._passwords[login]
