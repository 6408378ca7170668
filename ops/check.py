"""Evaluate the policy pack against a render, through the engine's Analyzer gRPC interface.

`PolicyAnalyzer` starts `policies/__main__.py` the way Pulumi's plugin host starts a
Python policy pack (the engine address as the only argument; PULUMI_PROJECT,
PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_CONFIG in the environment; the pack prints its
port on stdout), then speaks the SDK's own protobufs: GetAnalyzerInfo, Configure (the
stack's enforcement levels and properties, resolved as the engine resolves
`--policy-pack-config`), ConfigureStack, Analyze for every resource and AnalyzeStack
for the whole stack. A tiny in-process Engine service answers the pack's Log calls.

A render's "[secret]" markers go back on the wire as secret values and "[unknown]"
as the engine's unknown sentinel, so the pack sees what a preview would show it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent import futures
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2

from infra.errors import UserError
from ops.errors import read_user_file
from ops.pulumi_internals import (
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN_VALUE,
    analyzer_pb2,
    analyzer_pb2_grpc,
    engine_pb2,
    engine_pb2_grpc,
)

POLICY_PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
POLICY_CONFIG_DIR = POLICY_PACK_DIR / "config"
SECRET = "[secret]"
UNKNOWN = "[unknown]"
_LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_LEVEL_NAMES = {value: key for key, value in _LEVELS.items()}
_SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "unspecified",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}


class PolicyConfigError(UserError, ValueError):
    """A policy config file that the engine would reject."""


@dataclass(frozen=True)
class Violation:
    """One diagnostic of the pack."""

    policy: str
    urn: str
    message: str
    enforcement: str
    severity: str


@dataclass(frozen=True)
class PolicyState:
    """A policy as configured for this run."""

    name: str
    kind: str
    enforcement: str
    severity: str
    description: str
    remediation: str


@dataclass
class CheckResult:
    """What the pack said about one render."""

    stack: str
    project: str
    resources: int
    policy_config: str | None
    policies: list[PolicyState]
    violations: list[Violation] = field(default_factory=list)
    engine_logs: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        """Violations that block a deployment."""
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def passed(self) -> bool:
        """True when no mandatory policy is violated."""
        return not self.mandatory

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`dataplatform check --json`)."""
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": self.resources,
            "policyConfig": self.policy_config,
            "policies": [asdict(p) for p in self.policies],
            "violations": [asdict(v) for v in self.violations],
            "summary": self.summary(),
        }

    def summary(self) -> dict[str, Any]:
        """Counts for the closing line."""
        levels = [p.enforcement for p in self.policies]
        return {
            "policies": len(self.policies),
            "mandatoryPolicies": levels.count("mandatory"),
            "advisoryPolicies": levels.count("advisory"),
            "disabledPolicies": levels.count("disabled"),
            "violations": len(self.violations),
            "mandatoryViolations": len(self.mandatory),
            "advisoryViolations": len(self.violations) - len(self.mandatory),
            "passed": self.passed,
        }

    def format(self) -> str:
        """The human report: each violation, then a summary."""
        s = self.summary()
        lines = [
            f"stack {self.stack}: {s['policies']} policies ({s['mandatoryPolicies']} mandatory, "
            f"{s['advisoryPolicies']} advisory, {s['disabledPolicies']} disabled) over "
            f"{self.resources} resources, config {self.policy_config or 'pack defaults'}"
        ]
        for v in self.violations:
            lines.append(f"  [{v.enforcement}] {v.policy} ({v.severity})")
            lines.append(f"      {v.urn}")
            for text in v.message.splitlines():
                lines.append(f"      {text}")
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(
            f"{verdict}: {s['violations']} violations ({s['mandatoryViolations']} mandatory, "
            f"{s['advisoryViolations']} advisory)"
        )
        return "\n".join(lines)


class _EngineStub(engine_pb2_grpc.EngineServicer):
    """The Engine service a plugin may call back into: keeps Log messages."""

    def __init__(self) -> None:
        self.logs: list[str] = []
        self._root = ""

    def Log(self, request: Any, context: Any) -> Any:
        self.logs.append(f"{request.severity}: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()


def to_wire(value: Any) -> Any:
    """Render JSON -> engine wire form: "[secret]" becomes a secret, "[unknown]" unknown."""
    if value == SECRET:
        return {SIG_KEY: SECRET_SIG, "value": SECRET}
    if value == UNKNOWN:
        return UNKNOWN_VALUE
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(to_wire(value))
    return result


class PolicyAnalyzer:
    """The policy pack running as an analyzer plugin subprocess; reusable across renders."""

    def __init__(self, pack_dir: Path = POLICY_PACK_DIR, *, timeout: float = 60.0) -> None:
        self.pack_dir = pack_dir
        self.timeout = timeout
        self._engine = _EngineStub()
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine, self._engine_server)
        engine_port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        self.engine_address = f"127.0.0.1:{engine_port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._launched: tuple[str, str, subprocess.Popen[bytes]] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._stack: str | None = None

    def launch(self, *, project: str, stack: str) -> None:
        """Start the pack's process without waiting for it, so it boots while a render runs.

        `start` with the same project and stack then connects to it.
        """
        if self._process is not None or self._launched is not None:
            return
        env = dict(os.environ)
        env |= {
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack,
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": "{}",
            "PYTHONUNBUFFERED": "1",
        }
        process = subprocess.Popen(
            [sys.executable, "-u", str(self.pack_dir / "__main__.py"), self.engine_address],
            cwd=self.pack_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._launched = (project, stack, process)

    def start(self, *, project: str, stack: str) -> None:
        """Start the pack (again, if the stack changed: the pack reads it from its env)."""
        if self._process is not None and self._stack == stack:
            return
        self.close_plugin()
        launched, self._launched = self._launched, None
        if launched is not None and launched[:2] != (project, stack):
            launched[2].kill()
            launched[2].wait()
            launched = None
        if launched is None:
            self.launch(project=project, stack=stack)
            launched, self._launched = self._launched, None
        assert launched is not None
        process = launched[2]
        port = self._read_port(process)
        self._process = process
        self._stack = stack
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 400 * 2**20)]
        )
        grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        try:
            self._stub.Handshake(
                analyzer_pb2.AnalyzerHandshakeRequest(
                    engine_address=self.engine_address,
                    root_directory=str(self.pack_dir),
                    program_directory=str(self.pack_dir),
                )
            )
        except grpc.RpcError as error:  # the Python SDK predates Handshake: like the engine, go on
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
                raise

    def _read_port(self, process: subprocess.Popen[bytes]) -> int:
        assert process.stdout is not None
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self.timeout)
        line = box[0].strip() if box else b""
        if not line.isdigit():
            process.kill()
            _, stderr = process.communicate(timeout=10)
            raise RuntimeError(
                f"policy pack did not print its port (got {line!r}):\n{stderr.decode(errors='replace')}"
            )
        return int(line)

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """The Analyzer client (after `start`)."""
        if self._stub is None:
            raise RuntimeError("analyzer not started")
        return self._stub

    def info(self) -> Any:
        """GetAnalyzerInfo."""
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def plugin_version(self) -> str:
        """GetPluginInfo: the policy SDK version."""
        return self.stub.GetPluginInfo(empty_pb2.Empty()).version

    def configure(
        self, resolved: dict[str, tuple[str, dict[str, Any]]], *, stack: str, project: str
    ) -> None:
        """Configure (per-policy enforcement and properties) and ConfigureStack."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in resolved.items():
            config = analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[level])
            config.properties.update(properties)
            request.policyConfig[name].CopyFrom(config)
        self.stub.Configure(request)
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project=project, dry_run=True)
        )

    def close_plugin(self) -> None:
        """Stop the pack subprocess."""
        if self._channel is not None:
            self._channel.close()
        if self._process is not None:
            self._process.kill()
            self._process.communicate(timeout=10)
        self._process = self._channel = self._stub = None
        self._stack = None

    def close(self) -> None:
        """Stop the pack and the engine stub."""
        if self._launched is not None:
            self._launched[2].kill()
            self._launched[2].communicate(timeout=10)
            self._launched = None
        self.close_plugin()
        self._engine_server.stop(0)

    def __enter__(self) -> PolicyAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine_logs(self) -> list[str]:
        """What the pack logged to the engine."""
        return list(self._engine.logs)


def _options(resource: dict[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    options = resource.get("options") or {}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(options.get("protect")),
        ignoreChanges=list(options.get("ignore_changes") or []),
        deleteBeforeReplace=bool(options.get("delete_before_replace")),
        deleteBeforeReplaceDefined=True,
        parent=resource.get("parent") or "",
    )


def _provider(resource: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> Any:
    provider = by_urn.get(resource.get("provider") or "")
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider["type"],
        properties=_struct(provider.get("inputs") or {}),
        urn=provider["urn"],
        name=provider["name"],
    )


def analyze_request(resource: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> Any:
    """The AnalyzeRequest the engine sends for one resource of a render."""
    provider = _provider(resource, by_urn)
    return analyzer_pb2.AnalyzeRequest(
        type=resource["type"],
        properties=_struct(resource.get("inputs") or {}),
        urn=resource["urn"],
        name=resource["name"],
        options=_options(resource),
        provider=provider,
    )


def analyzer_resource(resource: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> Any:
    """The AnalyzerResource of one render resource, with parent and dependency edges."""
    return analyzer_pb2.AnalyzerResource(
        type=resource["type"],
        properties=_struct(resource.get("inputs") or {}),
        urn=resource["urn"],
        name=resource["name"],
        options=_options(resource),
        provider=_provider(resource, by_urn),
        parent=resource.get("parent") or "",
        dependencies=list(resource.get("dependencies") or []),
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(urns))
            for key, urns in (resource.get("property_dependencies") or {}).items()
        },
    )


def policy_config_file(stack: str) -> Path | None:
    """`policies/config/<stack>.json`, or None when the stack has none (pack defaults apply)."""
    path = POLICY_CONFIG_DIR / f"{stack}.json"
    return path if path.exists() else None


def load_policy_config(path: Path | None) -> dict[str, Any]:
    """A `--policy-pack-config` JSON document (empty when `path` is None)."""
    if path is None:
        return {}
    text = read_user_file(path, "a policy pack config JSON (see policies/config/)")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise PolicyConfigError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path}: expected an object of policy names")
    return document


def resolve_config(
    info: Any, document: dict[str, Any], source: str = "policy config"
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Per-policy (enforcement, properties) as the engine derives them from a config file.

    `all` sets every policy's level; a policy entry is a level string or an object with
    `enforcementLevel` and properties; schema defaults fill missing properties. Unknown
    policies, unknown properties and bad levels are errors, as in `pulumi preview`.
    """
    policies = {p.name: p for p in info.policies}
    unknown = sorted(set(document) - set(policies) - {"all"})
    if unknown:
        raise PolicyConfigError(f"{source}: unknown policies {', '.join(unknown)}")
    default_level = document.get("all")
    resolved: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, policy in policies.items():
        schema = _schema_properties(policy)
        level = default_level or _LEVEL_NAMES[policy.enforcementLevel]
        properties = {k: v["default"] for k, v in schema.items() if "default" in v}
        entry = document.get(name)
        if isinstance(entry, str):
            level = entry
        elif isinstance(entry, dict):
            level = entry.get("enforcementLevel", level)
            extra = sorted(set(entry) - set(schema) - {"enforcementLevel"})
            if extra:
                raise PolicyConfigError(f"{source}: {name} has no properties {', '.join(extra)}")
            properties |= {k: v for k, v in entry.items() if k != "enforcementLevel"}
        elif entry is not None:
            raise PolicyConfigError(f"{source}: {name} must be a level or an object")
        if level not in _LEVELS:
            raise PolicyConfigError(f"{source}: {name}: unknown enforcement level {level!r}")
        resolved[name] = (str(level), properties)
    return resolved


def _schema_properties(policy: Any) -> dict[str, dict[str, Any]]:
    from google.protobuf import json_format

    schema = json_format.MessageToDict(policy.configSchema.properties)
    return schema if isinstance(schema, dict) else {}


def _message(diagnostic: Any) -> str:
    prefix = diagnostic.description + "\n"
    text = diagnostic.message
    return text[len(prefix) :] if text.startswith(prefix) else text


def check_render(
    render: dict[str, Any],
    *,
    analyzer: PolicyAnalyzer,
    policy_config: Path | None = None,
    policy_document: dict[str, Any] | None = None,
    use_stack_config: bool = True,
) -> CheckResult:
    """Run the pack over a render (the JSON of `dataplatform render --out`).

    The stack's own `policies/config/<stack>.json` is used unless `policy_config` names
    another file, `policy_document` gives the config inline, or `use_stack_config` is
    False (pack defaults).
    """
    stack, project = render["stack"], render["project"]
    resources: list[dict[str, Any]] = render["resources"]
    path = policy_config or (policy_config_file(stack) if use_stack_config else None)
    document = load_policy_config(path) if policy_document is None else policy_document
    if policy_document is not None:
        path = None
    analyzer.start(project=project, stack=stack)
    info = analyzer.info()
    resolved = resolve_config(info, document, str(path) if path else "policy config")
    analyzer.configure(resolved, stack=stack, project=project)
    by_urn = {r["urn"]: r for r in resources}
    severity = {p.name: _SEVERITIES.get(p.severity, "unspecified") for p in info.policies}
    result = CheckResult(
        stack=stack,
        project=project,
        resources=len(resources),
        policy_config=str(path) if path else ("inline" if policy_document is not None else None),
        policies=[
            PolicyState(
                name=p.name,
                kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                enforcement=resolved[p.name][0],
                severity=severity[p.name],
                description=p.description,
                remediation=p.remediation_steps,
            )
            for p in info.policies
        ],
    )
    stack_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    # Every request is in flight at once (the engine, too, does not wait for one resource
    # before it sends the next); answers are read back in the resources' order.
    pending = [
        (resource["urn"], analyzer.stub.Analyze.future(analyze_request(resource, by_urn)))
        for resource in resources
    ]
    stack_answer = analyzer.stub.AnalyzeStack.future(
        analyzer_pb2.AnalyzeStackRequest(
            resources=[analyzer_resource(r, by_urn) for r in resources]
        )
    )
    for urn, answer in pending:
        result.violations += [_violation(d, urn, severity) for d in answer.result().diagnostics]
    result.violations += [
        _violation(d, stack_urn, severity) for d in stack_answer.result().diagnostics
    ]
    result.engine_logs = analyzer.engine_logs
    return result


def _violation(diagnostic: Any, fallback_urn: str, severity: dict[str, str]) -> Violation:
    return Violation(
        policy=diagnostic.policyName,
        urn=diagnostic.urn or fallback_urn,
        message=_message(diagnostic),
        enforcement=_LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
        severity=_SEVERITIES.get(diagnostic.severity)
        or severity.get(diagnostic.policyName, "unspecified"),
    )
