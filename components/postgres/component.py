"""PostgreSQL with pgaudit: the platform's metadata and warehouse database server.

Creates: the server workload (stateful, one persistent volume, generated superuser
password; `initdb` on an empty data directory, then `postgres` with the rendered
`postgresql.conf` and `pg_hba.conf`); a server certificate when TLS is required
(generated, or read from secret stack config); a pulumi-postgresql Provider built from
the admin address and the superuser password; and the access model (`access.py`,
`plan.py`, `declare.py`): the pgaudit extension, group roles, one service login per
database, service logins, databases, schemas, grants and default privileges. Options set
on the component (protect, retain_on_delete, providers, aliases) flow to every child
(`components/options.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

from components.common import AdminEndpoint, image_version
from components.contracts import DatabaseAccess, Peer, Requirements
from components.options import flowing_options
from components.postgres.consumers import effective_access, served
from components.postgres.declare import declare_plan, spec_name
from components.postgres.paths import JOB_CA_FILE
from components.postgres.plan import AccessPlan, GrantSpec, access_plan
from components.postgres.scram import scram_salt, scram_sha256_verifier
from components.postgres.server_config import CertificateSource
from components.postgres.settings import PostgresSettings
from components.postgres.workloads import server_workload, sql_job_workload
from components.runtime.base import AdminAddress, Runtime
from components.runtime.stack import StackSettings
from components.runtime.workload import Endpoint, WorkloadIdentity
from components.secrets import generated_password
from components.tls import ServerCertificate, configured_certificate, generated_certificate


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
    """PostgreSQL server with pgaudit, its databases, roles and grants.

    Implements `DatabaseProducer`: it creates the databases and logins its consumers
    require and hands each consumer `database_access` to them.
    """

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
        requirements: Sequence[Requirements] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:storage:Postgres", name, None, flowing_options(opts))
        self._name, self._settings, self._runtime = name, settings, runtime
        self.admin_user = settings.admin_user
        self.superuser_password = generated_password(f"{name}-superuser-password", parent=self)
        access = effective_access(settings.access, served(requirements))
        self.plan = access_plan(access, admin=settings.admin_user)
        self.databases = tuple(d.name for d in access.databases)
        self._passwords = {
            login: generated_password(f"{name}-{login}-password", parent=self)
            for login in self.plan.logins
        }
        self._identity = WorkloadIdentity(
            service="postgres", component="server", version=image_version(settings.image)
        )
        address = self._deploy_server(admin)
        self.plan_resources = self._declare_access(address, protect=stack.is_prod)
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "databases": sorted(self.databases),
                "logins": list(self.plan.logins),
            }
        )

    def _deploy_server(self, admin: AdminEndpoint | None) -> AdminAddress:
        """The server workload and the way in to it from where `pulumi up` runs (made by
        the same deploy); sets `endpoint`."""
        certificate = self._certificate(admin)
        self._trust_anchor = self._anchor(certificate)
        workload = server_workload(
            self._identity,
            self._settings,
            admin=admin,
            superuser_password=self.superuser_password,
            certificate=certificate,
        )
        deployed = self._runtime.deploy(workload, parent=self)
        self.endpoint = deployed.endpoint("postgres")
        return self._runtime.control_plane_address(
            workload,
            deployed,
            port_name="postgres",
            parent=self,
            fixed_host=admin.host if admin else None,
        )

    def _declare_access(
        self, address: AdminAddress, *, protect: bool
    ) -> dict[str, pulumi.Resource]:
        """The provider at `address` (superuser, TLS as the server requires) and the access
        plan through it, each object after the server and the way in (`address.ready`)."""
        settings = self._settings
        provider = postgresql.Provider(
            f"{self._name}-provider",
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
        verifiers = {
            login: password_verifier(f"{self._name}-{login}", password, parent=self)
            for login, password in self._passwords.items()
        }
        return declare_plan(
            self._name,
            self.plan,
            verifiers=verifiers,
            provider=provider,
            parent=self,
            protect=protect,
            after=address.ready,
        )

    def _anchor(self, certificate: ServerCertificate | None) -> pulumi.Output[str] | None:
        """What consumers check the server's certificate against (None without TLS): the
        CA of stack config key `caConfigKey` when set, else the certificate itself (the
        generated one is self-signed; a configured one without a CA must be too)."""
        if certificate is None:
            return None
        ca_key = self._settings.tls.ca_config_key
        if ca_key is None:
            return certificate.cert_pem
        return pulumi.Config().require_secret(ca_key)

    def _certificate(self, admin: AdminEndpoint | None) -> ServerCertificate | None:
        """The server certificate when TLS is required: from secret stack config, or
        generated for the in-platform host names and the fixed admin host."""
        tls = self._settings.tls
        if not tls.required:
            return None
        if tls.certificate is CertificateSource.CONFIGURED:
            assert tls.cert_config_key and tls.key_config_key  # guaranteed by TlsSettings
            config = pulumi.Config()
            return configured_certificate(
                config.require_secret(tls.cert_config_key),
                config.require_secret(tls.key_config_key),
            )
        host = self._runtime.internal_host(self._identity)
        return generated_certificate(
            self._name,
            common_name=host,
            dns_names=[host, self._identity.base_name, *([admin.host] if admin else [])],
            parent=self,
        )

    @property
    def peer(self) -> Peer:
        """The server's port, as consumers open it (network policies follow)."""
        return Peer.of(self._identity, self.endpoint.port)

    def database_access(self, consumer: str, *, database: str, login: str) -> DatabaseAccess:
        """`consumer`'s access to `database` as `login`; KeyError if neither was declared.

        With TLS, `ca_certificate` is the server's trust anchor (`_anchor`): consumers
        connect with `sslmode=verify-full` to `endpoint.host`, which the generated
        certificate names (`_certificate`).
        """
        if database not in self.databases or login not in self._passwords:
            raise KeyError(f"{consumer} did not require database {database!r} as {login!r}")
        return DatabaseAccess(
            peer=self.peer,
            endpoint=self.endpoint,
            database=database,
            user=login,
            password=self._passwords[login],
            require_tls=self._settings.tls.required,
            ca_certificate=self._trust_anchor,
            ready=tuple(self.ready_for(databases=[database], logins=[login])),
        )

    def ready_for(
        self, *, databases: Sequence[str], logins: Sequence[str]
    ) -> list[pulumi.Resource]:
        """What a consumer must wait for before it starts: its login roles and databases,
        and the grants made to those logins themselves in those databases (a service
        login's CONNECT on its own database, which the admin owns).

        Group grants are not among them: a consumer can start before they exist (it
        connects on use), and waiting for them would lengthen the deploy graph for nothing.
        Raises KeyError for a database or login this server does not declare.
        """
        keys = [f"role-{login}" for login in logins]
        keys += [f"role-{database}" for database in databases]
        keys += [f"db-{database}" for database in databases]
        keys += [
            spec_name(grant)
            for grant in self.plan.of_type(GrantSpec)
            if grant.role in logins and grant.database in databases
        ]
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
        login, the database and the login's grants there. With TLS, psql verifies the
        server (`sslmode=verify-full`) against its trust anchor, mounted as a file.
        Raises KeyError for an undeclared login or database.
        """
        if database not in self.databases:
            raise KeyError(f"no database {database!r} declared")
        access = self.database_access(job, database=database, login=login)
        ssl = " ".join(f"{k}={v}" for k, v in access.ssl_params(JOB_CA_FILE).items())
        conninfo = (
            f"host={self.endpoint.host} "
            f"port={self.endpoint.port} dbname={database} user={login} "
            f"{ssl} application_name={job}"
        )
        workload = sql_job_workload(
            self._identity,
            self._settings,
            job=job,
            conninfo=conninfo,
            statements=statements,
            password=self._passwords[login],
            ca_certificate=access.ca_certificate,
        )
        deployed = self._runtime.deploy(
            workload, parent=self, after=self.ready_for(databases=[database], logins=[login])
        )
        return deployed.resources[0]
