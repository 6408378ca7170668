"""A throwaway service stamped through the registry and the contracts, like a real one.

It declares what it needs (a database it owns, a login in a governance group, a bucket);
the producers create them and hand it credentials; network policies follow from the peers
it connects to. Nothing in this test names PostgreSQL or MinIO resources by hand.
"""

from __future__ import annotations

import functools
from typing import Any

import pulumi
from pydantic import BaseModel

from components.contracts import (
    BucketAccessLevel,
    BucketNeed,
    DatabaseNeed,
    LoginNeed,
    Requirements,
    Service,
    ServiceContext,
    requirement_problems,
)
from components.runtime.workload import (
    Port,
    Probe,
    Resources,
    SecretFile,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from infra.platform import DataPlatform
from infra.services import SERVICES, enabled_settings
from ops.render import Render, load_stack_config, render_program


class DemoSettings(BaseModel):
    """The throwaway service's settings section."""

    image: str = "docker.io/library/nginx:1.27.0"


def demo_requirements(settings: BaseModel) -> Requirements:
    return Requirements(
        consumer="demo",
        databases=(DatabaseNeed(database="demo"),),
        logins=(LoginNeed(login="demo_reader", member_of=("analyst",)),),
        buckets=(BucketNeed(bucket="silver", access=BucketAccessLevel.READ),),
    )


def build_demo(ctx: ServiceContext, settings: BaseModel) -> pulumi.ComponentResource:
    assert isinstance(settings, DemoSettings)
    component = pulumi.ComponentResource("dataplatform:test:Demo", ctx.resource_name("demo"))
    database = ctx.database().database_access("demo", database="demo", login="demo")
    store = ctx.object_store().object_store_access("demo")
    probe = Probe(port=8080, exec_command=("true",))
    ctx.runtime.deploy(
        Workload(
            identity=WorkloadIdentity(service="demo", component="app", version="1.0"),
            kind=WorkloadKind.STATELESS,
            image=settings.image,
            ports=(Port(name="http", container_port=8080),),
            resources=Resources(
                cpu_request="50m", cpu_limit="1", memory_request="64Mi", memory_limit="128Mi"
            ),
            security=SecurityProfile(run_as_user=1000, run_as_group=1000),
            readiness=probe,
            liveness=probe,
            secret_files=(
                SecretFile(path="/run/secrets/demo/db-password", content=database.password),
                SecretFile(path="/run/secrets/demo/s3-secret", content=store.secret_key),
            ),
            connections=(database.peer.connection(), store.peer.connection()),
        ),
        parent=component,
        after=[*database.ready, *store.ready],
    )
    component.register_outputs({})
    return component


DEMO = Service(name="demo", section="demo", build=build_demo, requirements=demo_requirements)


@functools.cache
def stamped(stack: str) -> Render:
    config = load_stack_config(stack)
    services = (*SERVICES, DEMO)
    sections = {**enabled_settings(config), "demo": DemoSettings()}

    def program() -> None:
        DataPlatform("p", config=config, services=services, sections=sections)

    return render_program(program, stack=stack)


def _named(render: Render, type_token: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in render.of_type(type_token)}


def test_producers_create_what_the_throwaway_service_requires() -> None:
    render = stamped("test")
    roles = {r["inputs"]["name"]: r["inputs"] for r in render.of_type("postgresql:index/role:Role")}
    assert roles["demo"]["login"] is True and roles["demo_reader"]["roles"] == ["analyst"]
    databases = {
        r["inputs"]["name"]: r["inputs"]
        for r in render.of_type("postgresql:index/database:Database")
    }
    assert databases["demo"]["owner"] == "postgres"  # the admin; the login works by grants
    grants = render.of_type("postgresql:index/grant:Grant")
    assert ("demo", "demo") in {(g["inputs"]["role"], g["inputs"]["database"]) for g in grants}
    users = _named(render, "minio:index/iamUser:IamUser")
    assert users["dp-test-minio-user-demo"]["inputs"]["name"] == "dp-test-demo"
    policy = _named(render, "minio:index/iamPolicy:IamPolicy")["dp-test-minio-user-demo-policy"]
    assert "arn:aws:s3:::dp-test-silver" in policy["inputs"]["policy"]
    assert "s3:PutObject" not in policy["inputs"]["policy"]


def test_network_policies_follow_the_declared_peers() -> None:
    policies = _named(stamped("test"), "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert {"dp-test-demo-app-to-postgres-server", "dp-test-demo-app-to-minio-server"} <= set(
        policies
    )
    ingress = policies["dp-test-demo-app-to-postgres-server"]["inputs"]["spec"]
    assert ingress["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "server",
        "app.kubernetes.io/name": "postgres",
    }


def test_credentials_reach_the_service_as_secret_files_after_its_grants() -> None:
    render = stamped("test")
    [secret] = [s for s in render.of_type("kubernetes:core/v1:Secret") if "demo-app" in s["name"]]
    assert set(secret["inputs"]["stringData"].values()) == {"[secret]"}
    [deployment] = [
        d for d in render.of_type("kubernetes:apps/v1:Deployment") if "demo-app" in d["name"]
    ]
    names = {r["urn"]: r["name"] for r in render.resources}
    waits = {names[u] for u in deployment["dependencies"] if u in names}
    assert {"dp-test-postgres-role-demo", "dp-test-postgres-db-demo"} <= waits
    assert "dp-test-minio-user-demo-policy-attachment" in waits


def test_a_consumer_without_its_producer_is_a_config_error() -> None:
    sections: dict[str, BaseModel | None] = {
        "object_store": None,
        "postgres": None,
        "demo": DemoSettings(),
    }
    problems = requirement_problems((*SERVICES, DEMO), sections)
    assert "demo needs a PostgreSQL database, but the stack has no postgres section" in problems[0]
    assert "demo needs object storage, but the stack has no object_store section" in problems[1]
