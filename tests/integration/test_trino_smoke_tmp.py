import pytest

pytestmark = pytest.mark.integration


def test_smoke(trino):
    print("startup", trino.startup_seconds)
    print(trino.query("grace", "SELECT * FROM lake.gold.customers"))
    print(trino.query("amelie", "SELECT * FROM lake.gold.customers"))
