"""Every private part of the Pulumi Python SDK that `ops/` uses, in one place.

The offline render (`ops/render.py`) runs the program under the SDK's mocks and records
what the engine would receive; the offline check (`ops/check.py`) plays the engine to
the policy pack over the Analyzer gRPC interface. Both need SDK parts that are not its
public API: the engine's wire format, the mock monitor, the program runner and the
gRPC stubs. They are imported here and nowhere else in `ops/`, each with what it is,
where it lives in the pinned SDK and why we need it, and
`tests/unit/test_pulumi_internals.py` fails naming the symbol and `PINNED_SDK` when an
SDK upgrade removes one or changes its call signature or value. Upgrade the SDK in
`pyproject.toml`, run that test, and fix this module (not its callers) when it fails.
The public SDK API (`pulumi.runtime.set_mocks`, `Mocks`, `MockResourceArgs`) is used
directly.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, Final

import pulumi._types as _types
import pulumi.runtime
from pulumi.runtime import resource as _resource
from pulumi.runtime import rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import (
    analyzer_pb2,
    analyzer_pb2_grpc,
    engine_pb2,
    engine_pb2_grpc,
    source_pb2,
)
from pulumi.runtime.proto.resource_pb2 import (
    RegisterResourceOutputsRequest,
    RegisterResourceRequest,
    RegisterResourceResponse,
)
from pulumi.runtime.stack import run_pulumi_func as _run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

__all__ = [
    "PINNED_SDK",
    "RESOURCE_SIG",
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN_VALUE",
    "MockMonitor",
    "RegisterResourceOutputsRequest",
    "RegisterResourceRequest",
    "RegisterResourceResponse",
    "analyzer_pb2",
    "analyzer_pb2_grpc",
    "engine_pb2",
    "engine_pb2_grpc",
    "run_under_mocks",
]

PINNED_SDK: Final = "3.272.0"
"""The `pulumi` version this module was checked against (pinned in pyproject.toml)."""

# --- The engine's wire format (pulumi/runtime/rpc.py) --------------------------------------

SIG_KEY: Final[str] = rpc._special_sig_key
"""`pulumi.runtime.rpc._special_sig_key`: the map key that marks a wire value as special
(a secret, a resource reference, an asset). The render reads it in registration requests;
the check writes it in the properties it sends the pack. Defined by the engine
(sdk/go/common/resource/properties.go); the SDK keeps it private."""

SECRET_SIG: Final[str] = rpc._special_secret_sig
"""`pulumi.runtime.rpc._special_secret_sig`: `{SIG_KEY: SECRET_SIG, "value": ...}` is a
secret on the wire. The render turns it into "[secret]"; the check turns "[secret]" back
into it, so the pack sees a secret as the engine would send it."""

RESOURCE_SIG: Final[str] = rpc._special_resource_sig
"""`pulumi.runtime.rpc._special_resource_sig`: `{SIG_KEY: RESOURCE_SIG, "urn", "id"}` is a
resource reference on the wire; the render keeps its URN and id."""

UNKNOWN_VALUE: Final[str] = rpc.UNKNOWN
"""`pulumi.runtime.rpc.UNKNOWN`: the string that stands for a value not known until the
deploy (a preview's computed output). The render shows it as "[unknown]"; the check sends
"[unknown]" back as it. The policy SDK has it as `pulumi_policy.proxy.UNKNOWN_STRING_VALUE`."""

# --- The mock engine (pulumi/runtime/mocks.py) ------------------------------------------------

# `MockMonitor` (imported above): `pulumi.runtime.mocks.MockMonitor`, the resource monitor
# that `pulumi.runtime.set_mocks(..., monitor=)` accepts but the SDK does not export. The
# render subclasses it and overrides `RegisterResource(request)` and
# `RegisterResourceOutputs(request)` to keep each request as the engine receives it.
# `RegisterResourceRequest`, `RegisterResourceResponse`, `RegisterResourceOutputsRequest`:
# the engine's messages those methods take and return (`pulumi.runtime.proto.resource_pb2`);
# the fields a render reads are listed in the compatibility test.

# --- The gRPC interfaces (pulumi/runtime/proto/) ----------------------------------------------

# `analyzer_pb2`, `analyzer_pb2_grpc` (imported above): the Analyzer service a policy pack
# serves (`AnalyzerStub`, `AnalyzeRequest`, `AnalyzerResource`, `ConfigureAnalyzerRequest`,
# enforcement levels, severities). `engine_pb2`, `engine_pb2_grpc`: the Engine service a
# plugin calls back into (Log, Get/SetRootResource). Generated from pulumi's proto files and
# shipped in `pulumi.runtime.proto` without a public API promise; the check speaks them to
# the pack exactly as the engine does.


def run_under_mocks(
    program: Callable[[], Awaitable[None] | None],
    *,
    mocks: pulumi.runtime.Mocks,
    monitor: MockMonitor,
    project: str,
    stack: str,
    preview: bool,
    config: dict[str, str],
    secret_keys: list[str],
) -> None:
    """Run a Pulumi program function to completion under `mocks`, in a fresh context.

    The SDK keeps its run state (settings, config, the root stack resource) in context
    variables, so a fresh `contextvars.Context` keeps two runs in one process apart. In
    it: `pulumi.runtime.settings.ROOT` is reset so `set_mocks` makes a new root `Stack`;
    `pulumi.runtime.set_all_config(config, secret_keys)` (exported, but meant for the
    SDK's own use) gives the program its stack config (`project:key` -> string; the keys
    that are secrets) as the engine would; and `pulumi.runtime.stack.run_pulumi_func`
    runs `program` and waits for every outstanding registration, driven to completion by
    `pulumi.runtime.sync_await._sync_await` (what the language host does for `pulumi up`).
    While it runs, the `SPEEDUPS` below stand in for SDK parts that only cost time
    offline. An exception of the program propagates.
    """
    contextvars.Context().run(
        _run, program, mocks, monitor, project, stack, preview, config, secret_keys
    )


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def _remembered(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` of a type annotation, computed once per annotation (unhashable: each time)."""
    results: dict[Any, Any] = {}

    def call(annotation: Any) -> Any:
        try:
            return results[annotation]
        except KeyError:
            results[annotation] = value = function(annotation)
            return value
        except TypeError:
            return function(annotation)

    return call


SPEEDUPS: Final = (
    (_resource, "_get_stack_trace", lambda _: _no_stack_trace),
    (_types, "unwrap_type", _remembered),
    (_types, "_is_optional_type", _remembered),
)
"""What the offline render replaces while the program runs: (module, name, replacement
made from the original). `pulumi.runtime.resource._get_stack_trace` walks and reads the
source of every frame for each registration (source positions for the Pulumi Cloud UI;
nothing offline reads them). `pulumi._types.unwrap_type` and `_is_optional_type` are
pure functions of a type annotation that the SDK re-derives for every property of every
resource it serializes; remembering them per annotation returns the same values. The
render is byte-identical with and without them (tests/unit/test_render_golden.py). In a
process that renders again (the tests do, many times) they save about a quarter of each
render; a fresh `dataplatform render` gains little, its time is the SDK's first use."""


def _run(
    program: Callable[[], Awaitable[None] | None],
    mocks: pulumi.runtime.Mocks,
    monitor: MockMonitor,
    project: str,
    stack: str,
    preview: bool,
    config: dict[str, str],
    secret_keys: list[str],
) -> None:
    _settings.ROOT.set(None)
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    originals = [(module, name, getattr(module, name)) for module, name, _ in SPEEDUPS]
    for module, name, make in SPEEDUPS:
        setattr(module, name, make(getattr(module, name)))
    try:
        _sync_await(_run_pulumi_func(program))
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
