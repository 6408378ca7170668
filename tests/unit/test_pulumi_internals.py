"""The private Pulumi SDK parts behind `ops/pulumi_internals.py` are still what we rely on.

An SDK upgrade may move or change what the SDK does not promise to keep. These tests
read the installed SDK directly (not through the seam, whose import would fail before
naming anything) and fail naming the symbol, what changed and the SDK version the seam
was checked against, so an upgrade breaks here, loudly, and not in the middle of a render
or a policy check. They also keep the seam the only place in `ops/` that reaches into
the SDK's private modules.
"""

from __future__ import annotations

import ast
import contextvars
import importlib
import inspect
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import grpc
import pytest

REPO = Path(__file__).resolve().parents[2]
SEAM = REPO / "ops" / "pulumi_internals.py"
PINNED = "3.272.0"
"""What the seam was checked against; also `PINNED_SDK` in the seam and the pyproject pin."""

WIRE_CONSTANTS = {
    # The engine's wire format (sdk/go/common/resource/properties.go in pulumi/pulumi).
    ("pulumi.runtime.rpc", "_special_sig_key"): "4dabf18193072939515e22adb298388d",
    ("pulumi.runtime.rpc", "_special_secret_sig"): "1b47061264138c4ac30d75fd1eb44270",
    ("pulumi.runtime.rpc", "_special_resource_sig"): "5cf8f73096256a8f31e491e813e4eb8e",
    ("pulumi.runtime.rpc", "UNKNOWN"): "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
}

CALLS: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, Any]]] = {
    # (module, function) -> the arguments the seam passes (placeholders of the right shape).
    ("pulumi.runtime.sync_await", "_sync_await"): ((object(),), {}),
    ("pulumi.runtime.stack", "run_pulumi_func"): ((lambda: None,), {}),
    ("pulumi.runtime", "set_all_config"): (({}, []), {}),
    ("pulumi.runtime", "set_mocks"): (
        (object(),),
        {"project": "p", "stack": "s", "preview": True, "monitor": object()},
    ),
    ("pulumi.runtime.mocks", "MockMonitor"): ((object(),), {}),
    ("pulumi.runtime.resource", "_get_stack_trace"): ((), {}),
    ("pulumi._types", "unwrap_type"): ((int,), {}),
    ("pulumi._types", "_is_optional_type"): ((int,), {}),
}

MONITOR_METHODS = ("RegisterResource", "RegisterResourceOutputs")
"""What the recording monitor overrides; each takes (self, request)."""

MESSAGE_FIELDS = {
    # (module, message) -> fields the render reads or the check sets.
    ("pulumi.runtime.proto.resource_pb2", "RegisterResourceRequest"): (
        "type name custom parent provider object propertyDependencies protect retainOnDelete"
        " deleteBeforeReplace ignoreChanges dependencies"
    ),
    ("pulumi.runtime.proto.resource_pb2", "RegisterResourceResponse"): "urn id object",
    ("pulumi.runtime.proto.resource_pb2", "RegisterResourceOutputsRequest"): "urn",
    (
        "pulumi.runtime.proto.analyzer_pb2",
        "AnalyzeRequest",
    ): "type properties urn name options provider",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerResource"): (
        "type properties urn name options provider parent dependencies propertyDependencies"
    ),
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerResourceOptions"): (
        "protect ignoreChanges deleteBeforeReplace deleteBeforeReplaceDefined parent"
    ),
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerProviderResource"): "type properties urn name",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerPropertyDependencies"): "urns",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerHandshakeRequest"): (
        "engine_address root_directory program_directory"
    ),
    ("pulumi.runtime.proto.analyzer_pb2", "ConfigureAnalyzerRequest"): "policyConfig",
    ("pulumi.runtime.proto.analyzer_pb2", "PolicyConfig"): "enforcementLevel properties",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerStackConfigureRequest"): "stack project dry_run",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzeStackRequest"): "resources",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzeResponse"): "diagnostics",
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzeDiagnostic"): (
        "policyName description message urn enforcementLevel severity"
    ),
    ("pulumi.runtime.proto.analyzer_pb2", "AnalyzerInfo"): "policies",
    ("pulumi.runtime.proto.analyzer_pb2", "PolicyInfo"): (
        "name description remediation_steps enforcementLevel severity policy_type configSchema"
    ),
    ("pulumi.runtime.proto.engine_pb2", "LogRequest"): "severity message",
    ("pulumi.runtime.proto.engine_pb2", "GetRootResourceResponse"): "urn",
    ("pulumi.runtime.proto.engine_pb2", "SetRootResourceRequest"): "urn",
}

ENUM_VALUES = [
    "ADVISORY",
    "MANDATORY",
    "REMEDIATE",
    "DISABLED",
    "POLICY_SEVERITY_UNSPECIFIED",
    "POLICY_SEVERITY_LOW",
    "POLICY_SEVERITY_MEDIUM",
    "POLICY_SEVERITY_HIGH",
    "POLICY_SEVERITY_CRITICAL",
    "POLICY_TYPE_STACK",
]
"""`analyzer_pb2` enum values the check maps to names."""

ANALYZER_RPCS = (
    "Handshake GetAnalyzerInfo GetPluginInfo Configure ConfigureStack Analyze AnalyzeStack"
)
ENGINE_SERVICER = ("Log", "GetRootResource", "SetRootResource")


def _fail(symbol: str, problem: str) -> NoReturn:
    pytest.fail(
        f"pulumi {version('pulumi')} (ops/pulumi_internals.py was checked against {PINNED}): "
        f"{symbol} {problem}; fix ops/pulumi_internals.py for the new SDK",
        pytrace=False,
    )


def _lookup(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        _fail(f"{module}.{name}", f"is gone ({error})")


def test_the_installed_sdk_is_the_one_the_seam_was_checked_against() -> None:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"pulumi=={PINNED}" in pins, "pyproject pins another pulumi: re-check the seam"
    if version("pulumi") != PINNED:
        _fail("pulumi", "is not the pinned version")
    assert f'PINNED_SDK: Final = "{PINNED}"' in SEAM.read_text()


@pytest.mark.parametrize(("symbol", "expected"), WIRE_CONSTANTS.items(), ids=str)
def test_wire_signatures_are_the_engines(symbol: tuple[str, str], expected: str) -> None:
    value = _lookup(*symbol)
    if value != expected:
        _fail(".".join(symbol), f"is {value!r}, the engine's wire format says {expected!r}")


@pytest.mark.parametrize(("symbol", "arguments"), CALLS.items(), ids=str)
def test_functions_take_the_arguments_we_pass(
    symbol: tuple[str, str], arguments: tuple[tuple[Any, ...], dict[str, Any]]
) -> None:
    function: Callable[..., Any] = _lookup(*symbol)
    args, kwargs = arguments
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError as error:
        _fail(".".join(symbol), f"no longer takes {args!r}, {kwargs!r} ({error})")


def test_run_pulumi_func_is_a_coroutine_and_root_a_context_variable() -> None:
    if not inspect.iscoroutinefunction(_lookup("pulumi.runtime.stack", "run_pulumi_func")):
        _fail("pulumi.runtime.stack.run_pulumi_func", "is no longer a coroutine function")
    if not isinstance(_lookup("pulumi.runtime.settings", "ROOT"), contextvars.ContextVar):
        _fail("pulumi.runtime.settings.ROOT", "is no longer a ContextVar")


@pytest.mark.parametrize("method", MONITOR_METHODS)
def test_the_mock_monitor_methods_we_override(method: str) -> None:
    monitor = _lookup("pulumi.runtime.mocks", "MockMonitor")
    function = getattr(monitor, method, None)
    if function is None:
        _fail(f"pulumi.runtime.mocks.MockMonitor.{method}", "is gone")
    if list(inspect.signature(function).parameters) != ["self", "request"]:
        _fail(f"pulumi.runtime.mocks.MockMonitor.{method}", "no longer takes (self, request)")


@pytest.mark.parametrize(("message", "fields"), MESSAGE_FIELDS.items(), ids=str)
def test_engine_messages_have_the_fields_we_use(message: tuple[str, str], fields: str) -> None:
    known = set(_lookup(*message).DESCRIPTOR.fields_by_name)
    missing = sorted(set(fields.split()) - known)
    if missing:
        _fail(".".join(message), f"has no fields {', '.join(missing)}")


def test_analyzer_and_engine_services_have_what_we_call() -> None:
    analyzer_pb2 = importlib.import_module("pulumi.runtime.proto.analyzer_pb2")
    for name in ENUM_VALUES:
        _lookup("pulumi.runtime.proto.analyzer_pb2", name)
    assert analyzer_pb2.MANDATORY != analyzer_pb2.ADVISORY
    stub = _lookup("pulumi.runtime.proto.analyzer_pb2_grpc", "AnalyzerStub")
    with grpc.insecure_channel("127.0.0.1:9") as channel:  # lazy: never connects
        client = stub(channel)
        for rpc in ANALYZER_RPCS.split():
            if not hasattr(client, rpc):
                _fail(f"pulumi.runtime.proto.analyzer_pb2_grpc.AnalyzerStub.{rpc}", "is gone")
    servicer = _lookup("pulumi.runtime.proto.engine_pb2_grpc", "EngineServicer")
    for rpc in ENGINE_SERVICER:
        if not hasattr(servicer, rpc):
            _fail(f"pulumi.runtime.proto.engine_pb2_grpc.EngineServicer.{rpc}", "is gone")
    _lookup("pulumi.runtime.proto.engine_pb2_grpc", "add_EngineServicer_to_server")


def _private_sdk_imports(path: Path) -> list[str]:
    """`pulumi.*` modules a file imports from, other than the public `pulumi`/`pulumi.runtime`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        found += [m for m in modules if m.startswith("pulumi.") and m != "pulumi.runtime"]
    return found


def test_the_seam_is_the_only_module_of_ops_that_reaches_into_the_sdk() -> None:
    leaks = {
        str(path.relative_to(REPO)): _private_sdk_imports(path)
        for path in sorted((REPO / "ops").glob("*.py"))
        if path != SEAM and _private_sdk_imports(path)
    }
    assert leaks == {}


def test_every_private_import_of_the_seam_is_checked_here() -> None:
    checked = {module for module, _ in [*WIRE_CONSTANTS, *CALLS, *MESSAGE_FIELDS]}
    checked |= {"pulumi.runtime.proto", "pulumi.runtime.settings"}  # grpc modules; ROOT
    assert set(_private_sdk_imports(SEAM)) <= checked


def test_the_seam_exports_the_sdks_values() -> None:
    from ops import pulumi_internals as seam

    assert seam.PINNED_SDK == PINNED
    assert tuple(WIRE_CONSTANTS.values()) == (
        seam.SIG_KEY,
        seam.SECRET_SIG,
        seam.RESOURCE_SIG,
        seam.UNKNOWN_VALUE,
    )
