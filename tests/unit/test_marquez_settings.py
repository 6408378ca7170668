"""Marquez settings and rendered files: tier defaults, clear refusals, no secret in a render."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import javaproperties
import pytest
import yaml

from components.marquez.files import (
    ADMIN_PORT,
    API_PORT,
    PostgresEndpoint,
    api_start_script,
    marquez_yml,
    openlineage_client_env,
    trino_openlineage_file,
    trino_openlineage_properties,
    web_env,
)
from components.marquez.settings import (
    MARQUEZ_IMAGE,
    MARQUEZ_VERSION,
    MARQUEZ_WEB_IMAGE,
    MarquezSettings,
)
from components.runtime.stack import Tier

PROD_DB = PostgresEndpoint(
    host="dp-prod-postgres.dp-prod.svc", sslmode="verify-full", sslrootcert="/etc/ca/ca.crt"
)


def _refused(tier: Tier, section: dict[str, Any], *needles: str) -> str:
    with pytest.raises(ValueError) as error:
        MarquezSettings.for_tier(tier, section)
    message = str(error.value)
    for needle in needles:
        assert needle in message, message
    return message


# --- settings: tiers ----------------------------------------------------------------------


def test_prod_defaults_are_redundant_and_keep_three_months() -> None:
    settings = MarquezSettings.for_tier(Tier.PROD, {})
    assert (settings.api_replicas, settings.web_replicas) == (2, 2)
    assert settings.retention.retention_days == 90
    assert settings.migrate_on_startup and not settings.graphql
    assert (settings.image, settings.web_image) == (MARQUEZ_IMAGE, MARQUEZ_WEB_IMAGE)


@pytest.mark.parametrize(("tier", "days"), [(Tier.DEV, 7), (Tier.TEST, 14)])
def test_dev_and_test_run_one_of_each_with_shorter_retention(tier: Tier, days: int) -> None:
    settings = MarquezSettings.for_tier(tier, {})
    assert (settings.api_replicas, settings.web_replicas) == (1, 1)
    assert settings.retention.retention_days == days


def test_a_stack_section_wins_over_tier_defaults_key_by_key() -> None:
    settings = MarquezSettings.for_tier(Tier.DEV, {"retention": {"frequencyMins": 60}})
    assert settings.retention.frequency_mins == 60
    assert settings.retention.retention_days == 7  # the tier's, not the schema's 90


def test_job_namespace_is_per_stack_unless_named() -> None:
    assert MarquezSettings.for_tier(Tier.DEV, {}).job_namespace("dev") == "dataplatform-dev"
    named = MarquezSettings.for_tier(Tier.DEV, {"namespace": "sales-dev"})
    assert named.job_namespace("dev") == "sales-dev"


# --- settings: bad config -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "image"),
    [
        ("image", "marquezproject/marquez:latest"),
        ("image", "marquezproject/marquez"),
        ("webImage", "marquezproject/marquez-web:latest"),
    ],
)
def test_unpinned_images_are_refused(key: str, image: str) -> None:
    _refused(Tier.DEV, {key: image}, f"marquez.{key}", "pin an exact version")


def test_mismatched_api_and_web_versions_are_refused() -> None:
    _refused(
        Tier.DEV,
        {"webImage": "marquezproject/marquez-web:0.50.0"},
        "marquez.image and marquez.webImage must carry the same version",
        "'0.51.1' and '0.50.0'",
    )


def test_an_untested_release_is_refused_even_when_both_match() -> None:
    _refused(
        Tier.DEV,
        {"image": "marquezproject/marquez:0.50.0", "webImage": "marquezproject/marquez-web:0.50.0"},
        f"renders and tests Marquez {MARQUEZ_VERSION}",
    )


def test_swapped_images_are_refused() -> None:
    _refused(
        Tier.DEV,
        {"image": MARQUEZ_WEB_IMAGE, "webImage": MARQUEZ_IMAGE},
        "marquez.image 'marquezproject/marquez-web:0.51.1': expected the marquezproject/marquez",
        "marquez.webImage 'marquezproject/marquez:0.51.1': expected the marquezproject/marquez-web",
    )


@pytest.mark.parametrize(
    ("retention", "key"),
    [
        ({"retentionDays": 0}, "marquez.retention.retentionDays"),
        ({"retentionDays": 3651}, "marquez.retention.retentionDays"),
        ({"frequencyMins": 0}, "marquez.retention.frequencyMins"),
        ({"numberOfRowsPerBatch": 0}, "marquez.retention.numberOfRowsPerBatch"),
    ],
)
def test_retention_out_of_range_is_refused(retention: dict[str, int], key: str) -> None:
    value = next(iter(retention.values()))
    _refused(Tier.DEV, {"retention": retention}, key, f"(got {value})")


@pytest.mark.parametrize("key", ["apiReplicas", "webReplicas"])
def test_zero_replicas_are_refused(key: str) -> None:
    _refused(Tier.DEV, {key: 0}, f"marquez.{key}", "greater than or equal to 1", "(got 0)")


def test_prod_refuses_a_single_api_short_retention_and_no_migrations() -> None:
    message = _refused(
        Tier.PROD,
        {"apiReplicas": 1, "retention": {"retentionDays": 7}, "migrateOnStartup": False},
        "marquez.apiReplicas must be at least 2 in a prod stack, got 1",
        "marquez.retention.retentionDays must be at least 30 in a prod stack, got 7",
        "marquez.migrateOnStartup must be true in a prod stack",
    )
    assert message.count(";") == 2  # every problem at once


def test_dev_accepts_what_prod_refuses() -> None:
    section = {"apiReplicas": 1, "retention": {"retentionDays": 7}, "migrateOnStartup": False}
    assert MarquezSettings.for_tier(Tier.DEV, section).api_replicas == 1


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"retentionDays": 30}, "marquez.retentionDays"),  # belongs under `retention`
        ({"logLevel": "DEBUG"}, "marquez.logLevel"),  # DEBUG logs SQL binds
        ({"namespace": "Sales_Dev"}, "marquez.namespace"),
    ],
)
def test_misplaced_or_unsafe_keys_name_their_path(section: dict[str, Any], key: str) -> None:
    _refused(Tier.DEV, section, key)


# --- marquez.yml --------------------------------------------------------------------------


def _document(tier: Tier = Tier.PROD, db: PostgresEndpoint = PROD_DB) -> dict[str, Any]:
    return yaml.safe_load(marquez_yml(MarquezSettings.for_tier(tier, {}), db))


def test_marquez_yml_serves_api_and_admin_ports() -> None:
    server = _document()["server"]
    assert server["applicationConnectors"] == [{"type": "http", "port": API_PORT}]
    assert server["adminConnectors"] == [{"type": "http", "port": ADMIN_PORT}]


def test_marquez_yml_connects_with_tls_verification_and_a_password_placeholder() -> None:
    db = _document()["db"]
    assert db["url"] == (
        "jdbc:postgresql://dp-prod-postgres.dp-prod.svc:5432/marquez"
        "?sslmode=verify-full&sslrootcert=/etc/ca/ca.crt"
    )
    assert db["user"] == "marquez"
    assert db["password"] == "${POSTGRES_PASSWORD}"


def test_verifying_tls_without_a_ca_is_refused() -> None:
    with pytest.raises(ValueError, match="sslmode 'verify-full' needs sslrootcert"):
        PostgresEndpoint(host="db").jdbc_url()


def test_marquez_yml_migrates_on_start_and_can_never_clean() -> None:
    document = _document()
    assert document["migrateOnStartup"] is True
    assert document["flyway"]["cleanDisabled"] is True


@pytest.mark.parametrize(("tier", "days"), [(Tier.DEV, 7), (Tier.PROD, 90)])
def test_marquez_yml_carries_the_tiers_retention(tier: Tier, days: int) -> None:
    db = PostgresEndpoint(host="127.0.0.1", sslmode="disable")
    assert _document(tier, db)["dbRetention"] == {
        "frequencyMins": 15,
        "numberOfRowsPerBatch": 1000,
        "retentionDays": days,
    }


def test_marquez_yml_needs_no_search_cluster_and_logs_no_sql_binds() -> None:
    document = _document()
    assert document["search"] == {"enabled": False}
    assert document["logging"]["level"] == "INFO"


def test_marquez_yml_is_deterministic() -> None:
    settings = MarquezSettings.for_tier(Tier.PROD, {})
    assert marquez_yml(settings, PROD_DB) == marquez_yml(settings, PROD_DB)


# --- the start script ---------------------------------------------------------------------


def _run_start(tmp_path: Path, password: str | None) -> subprocess.CompletedProcess[str]:
    """Run the start script with a stand-in entrypoint that prints what it was given."""
    app = tmp_path / "app"
    app.mkdir()
    entrypoint = app / "entrypoint.sh"
    entrypoint.write_text(
        '#!/bin/sh\necho "cwd=$(pwd) config=$MARQUEZ_CONFIG pw=$POSTGRES_PASSWORD"\n'
    )
    entrypoint.chmod(0o755)
    secret = tmp_path / "postgres-password"
    if password is not None:
        secret.write_text(password)
    command = api_start_script(
        password_file=str(secret),
        config_file="/etc/marquez/marquez.yml",
        app_dir=str(app),
        entrypoint=str(entrypoint),
    )
    env = {"PATH": os.environ["PATH"]}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_start_script_exports_the_secret_files_password_and_execs_the_entrypoint(
    tmp_path: Path,
) -> None:
    result = _run_start(tmp_path, "s3cretPassw0rd\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cwd={tmp_path / 'app'} config=/etc/marquez/marquez.yml pw=s3cretPassw0rd"
    )


@pytest.mark.parametrize("password", [None, ""])
def test_start_script_refuses_a_missing_or_empty_password_file(
    tmp_path: Path, password: str | None
) -> None:
    result = _run_start(tmp_path, password)
    assert result.returncode == 1
    assert "password file" in result.stderr and "missing or empty" in result.stderr
    assert "pw=" not in result.stdout  # Marquez never starts with the literal placeholder


@pytest.mark.parametrize("password", ["a: b", "pa#ss", "it's", "x\ny"])
def test_start_script_refuses_a_password_that_would_change_the_yaml(
    tmp_path: Path, password: str
) -> None:
    result = _run_start(tmp_path, password)
    assert result.returncode == 1
    assert "unsafe in marquez.yml" in result.stderr
    assert password not in result.stderr


# --- producers: the web UI, OpenLineage clients, Trino ------------------------------------


def test_web_env_points_the_proxy_at_the_api() -> None:
    assert web_env(api_host="dp-prod-marquez-api") == {
        "MARQUEZ_HOST": "dp-prod-marquez-api",
        "MARQUEZ_PORT": "5000",
        "WEB_PORT": "3000",
    }


def test_openlineage_client_env_posts_to_marquez_lineage_endpoint() -> None:
    env = openlineage_client_env(marquez_url="http://dp-dev-marquez-api:5000", namespace="dp-dev")
    assert env == {
        "OPENLINEAGE_URL": "http://dp-dev-marquez-api:5000",
        "OPENLINEAGE_ENDPOINT": "api/v1/lineage",
        "OPENLINEAGE_NAMESPACE": "dp-dev",
    }


def test_trino_listener_sends_http_to_marquez_with_the_stack_namespace() -> None:
    text = trino_openlineage_file(
        trino_uri="http://dp-prod-trino:8080",
        marquez_url="http://dp-prod-marquez-api:5000",
        namespace="dataplatform-prod",
    )
    assert javaproperties.loads(text) == {
        "event-listener.name": "openlineage",
        "openlineage-event-listener.trino.uri": "http://dp-prod-trino:8080",
        "openlineage-event-listener.transport.type": "HTTP",
        "openlineage-event-listener.transport.url": "http://dp-prod-marquez-api:5000",
        "openlineage-event-listener.transport.endpoint": "/api/v1/lineage",
        "openlineage-event-listener.namespace": "dataplatform-prod",
    }
    assert not text.startswith("#")  # no timestamp: deterministic


@pytest.mark.parametrize(
    ("trino_uri", "marquez_url", "needle"),
    [
        ("dp-trino:8080", "http://m:5000", "trino uri 'dp-trino:8080'"),
        ("http://dp-trino", "http://m:5000", "expected http(s)://host:port"),
        ("http://t:8080", "http://m:5000/api/v1/lineage", "no path allowed"),
    ],
)
def test_trino_listener_refuses_urls_trino_would_reject(
    trino_uri: str, marquez_url: str, needle: str
) -> None:
    with pytest.raises(ValueError) as error:
        trino_openlineage_properties(trino_uri=trino_uri, marquez_url=marquez_url, namespace="n")
    assert needle in str(error.value)
