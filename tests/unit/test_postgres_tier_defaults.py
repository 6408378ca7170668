"""PostgreSQL's secure defaults per tier: a stack file writes only its sizes and image.

The access model and the audit and TLS rules that test and prod share are written once
(components/postgres/defaults.yaml and the schema's defaults); dev loosens them in its
tier defaults; a stack's own section still wins, key by key, with lists replaced whole.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.postgres import PostgresSettings
from components.postgres.server_config import AuditClass
from components.runtime.stack import Tier
from components.tier_defaults import merged
from infra.config import parse_config
from tests.conftest import STACKS
from tests.unit.test_config import raw_config

SIZES_ONLY = {
    "image": "ghcr.io/cloudnative-pg/postgresql:15.17-standard-trixie",
    "volumeSize": "10Gi",
    "resources": {
        "cpuRequest": "500m",
        "cpuLimit": "2",
        "memoryRequest": "1Gi",
        "memoryLimit": "2Gi",
    },
}
STACK_SPECIFIC = {"image", "volumeSize", "resources", "server"}


def for_tier(tier: Tier, section: dict[str, Any]) -> PostgresSettings:
    """`section` over `tier`'s defaults, validated as the program validates a stack."""
    return PostgresSettings.model_validate(merged(PostgresSettings.tier_defaults(tier), section))


@pytest.mark.parametrize("tier", list(Tier))
def test_a_section_of_sizes_only_meets_its_tiers_rules(tier: Tier) -> None:
    """A new stack (a DR drill's `prod-dr`) gets its tier's governance without copying it."""
    settings = for_tier(tier, SIZES_ONLY)
    assert settings.tier_problems(tier) == []
    assert {d.name for d in settings.access.databases} == {"warehouse"}
    # Service logins come from the services' requirements, not from governance.
    assert settings.access.logins == ()


def test_prod_audits_writes_over_tls_without_bind_parameters() -> None:
    settings = for_tier(Tier.PROD, SIZES_ONLY)
    assert set(settings.audit.classes) == {AuditClass.DDL, AuditClass.ROLE, AuditClass.WRITE}
    assert settings.audit.log_relation and not settings.audit.log_parameter
    assert settings.tls.required


def test_test_and_prod_share_audit_tls_and_access() -> None:
    test, prod = for_tier(Tier.TEST, SIZES_ONLY), for_tier(Tier.PROD, SIZES_ONLY)
    assert test.audit.classes == prod.audit.classes
    assert test.tls == prod.tls
    assert test.access == prod.access
    assert test.audit.log_parameter  # the one difference: test keeps bind parameters


def test_dev_loosens_audit_and_tls_explicitly() -> None:
    dev = for_tier(Tier.DEV, SIZES_ONLY)
    assert set(dev.audit.classes) == {AuditClass.DDL, AuditClass.ROLE}
    assert not dev.tls.required and not dev.audit.log_relation
    assert dev.access == for_tier(Tier.PROD, SIZES_ONLY).access


def test_a_stack_section_wins_key_by_key() -> None:
    dev = for_tier(Tier.DEV, {**SIZES_ONLY, "tls": {"required": True}})
    assert dev.tls.required
    assert set(dev.audit.classes) == {AuditClass.DDL, AuditClass.ROLE}  # still dev's


def test_a_list_in_the_stack_replaces_the_default_list_whole() -> None:
    logins = [{"name": "trino", "memberOf": ["engineer"]}]
    settings = for_tier(Tier.PROD, {**SIZES_ONLY, "access": {"logins": logins}})
    assert [login.name for login in settings.access.logins] == ["trino"]
    assert len(settings.access.databases) == len(for_tier(Tier.PROD, SIZES_ONLY).access.databases)


def test_defaults_are_fresh_on_every_call() -> None:
    """A caller that edits the defaults it got cannot change another stack's."""
    first = PostgresSettings.tier_defaults(Tier.PROD)
    first["access"]["groups"].clear()
    assert PostgresSettings.tier_defaults(Tier.PROD)["access"]["groups"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_write_only_what_differs_per_stack(stack: str) -> None:
    section = raw_config(stack)["postgres"]
    assert set(section) <= STACK_SPECIFIC, sorted(set(section) - STACK_SPECIFIC)
    parsed = parse_config(stack, copy.deepcopy(raw_config(stack))).postgres
    assert parsed == for_tier(Tier(stack), section)
