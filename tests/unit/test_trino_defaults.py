"""Trino's tier defaults: the access policy test and prod must share is written once
(components/trino/governance.yaml), stack files keep only what differs, and a stack file
still wins over the defaults key by key (lists whole)."""

from __future__ import annotations

import pytest

from components.runtime.stack import Tier
from components.trino import TrinoSettings, render_rules_json
from infra.config import ConfigError, parse_config
from tests.unit.test_config import raw_config


def test_test_and_prod_share_one_access_policy_and_name_only_their_people() -> None:
    for stack in ("test", "prod"):
        assert set(raw_config(stack)["trino"]["access"]) == {"groups"}, stack
    test, prod = (parse_config(s, raw_config(s)).trino.access for s in ("test", "prod"))
    assert render_rules_json(test) == render_rules_json(prod)
    assert len(test.tables) == 10 and len(test.classified_tables) == 3


def test_dev_replaces_only_the_tables_list_of_the_shared_policy() -> None:
    dev = parse_config("dev", raw_config("dev")).trino.access
    test = parse_config("test", raw_config("test")).trino.access
    assert dev.tables != test.tables
    assert dev.model_copy(update={"tables": test.tables}) == test


@pytest.mark.parametrize(("stack", "period"), [("dev", "10s"), ("test", "30s"), ("prod", "60s")])
def test_access_refresh_period_follows_the_tier_unless_the_stack_sets_one(
    stack: str, period: str
) -> None:
    assert parse_config(stack, raw_config(stack)).trino.access_refresh_period == period
    raw = raw_config(stack)
    raw["trino"]["accessRefreshPeriod"] = "5s"
    assert parse_config(stack, raw).trino.access_refresh_period == "5s"


def test_a_rule_list_in_the_stack_file_replaces_the_shared_list_whole() -> None:
    raw = raw_config("prod")
    raw["trino"]["access"]["queries"] = [{"groups": ["admins"], "allow": ["execute"]}]
    access = parse_config("prod", raw).trino.access
    assert [q.groups for q in access.queries] == [("admins",)]
    assert len(access.tables) == 10  # the other lists still come from the governance file


def test_a_stack_without_groups_is_refused_naming_the_key() -> None:
    raw = raw_config("prod")
    del raw["trino"]["access"]["groups"]
    with pytest.raises(ConfigError) as error:
        parse_config("prod", raw)
    assert "data-platform:trino.access.groups: required key is missing" in str(error.value)


def test_tier_defaults_are_a_fresh_copy_each_time() -> None:
    TrinoSettings.tier_defaults(Tier.PROD)["access"]["tables"].clear()
    assert len(TrinoSettings.tier_defaults(Tier.PROD)["access"]["tables"]) == 10
    assert "groups" not in TrinoSettings.tier_defaults(Tier.TEST)["access"]
