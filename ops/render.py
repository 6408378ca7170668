"""Offline render: run the real program under Pulumi's mocks with a stack's real config file.

The mock monitor records every registration request as the engine would receive it
(type, name, parent, provider, inputs in wire form, options, dependency edges); inputs
that are secrets render as "[secret]", unknown values as "[unknown]". Nothing leaves
the process: no engine, no provider plugin, no cloud.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi.runtime
import yaml
from google.protobuf import json_format

from infra.config import PROJECT, PlatformConfig, decode_value, parse_config
from infra.errors import UserError
from ops.errors import check_stack_name, read_user_file
from ops.pulumi_internals import (
    RESOURCE_SIG,
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN_VALUE,
    MockMonitor,
    RegisterResourceOutputsRequest,
    RegisterResourceRequest,
    RegisterResourceResponse,
    run_under_mocks,
)

SECRET = "[secret]"
UNKNOWN = "[unknown]"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def stack_file(stack: str, root: Path = _REPO_ROOT) -> Path:
    """`Pulumi.<stack>.yaml` in the project root; `UserError` for a malformed stack name."""
    return root / f"Pulumi.{check_stack_name(stack)}.yaml"


def _stack_document(path: Path) -> dict[str, Any]:
    """The stack file's `config:` mapping; `UserError` naming the file, line and key otherwise."""
    text = read_user_file(path, "a Pulumi stack file in YAML")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise UserError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(document, dict):
        raise UserError(
            f"{path}: expected a YAML mapping with a 'config:' key, got a {_kind(document)}"
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise UserError(
            f"{path}: 'config' must be a mapping of keys to values, got a {_kind(config)}"
        )
    return config


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def read_stack_config(path: Path) -> tuple[dict[str, str], list[str]]:
    """A stack file's config as the engine hands it to the program: `project:key` -> string.

    Values encrypted with `secure:` cannot be decrypted offline; they become "[secret]"
    placeholders and their keys are marked secret, so the program still runs. A file
    that is missing, not YAML or not a stack file raises `UserError` naming it.
    """
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in _stack_document(path).items():
        key = str(key)
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        value, had_secret = _strip_secure(value)
        if had_secret:
            secret_keys.append(full_key)
        config[full_key] = value if isinstance(value, str) else json.dumps(value)
    return config, secret_keys


def secure_values(path: Path) -> list[tuple[str, str]]:
    """Every `secure:` value of a stack file as (`project:key.path`, ciphertext), in order.

    The key path is what `pulumi config set --path` takes (`data-platform:dagster.alerts.x`,
    list items as `[i]`). `UserError` when the file is not a stack file.
    """
    found: list[tuple[str, str]] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                found.append((where, str(value["secure"])))
                return
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    for key, value in _stack_document(path).items():
        key = str(key)
        walk(value, key if ":" in key else f"{PROJECT}:{key}")
    return found


def stack_sections(path: Path) -> dict[str, Any]:
    """A stack file's `data-platform` config sections, decoded, keyed without the project prefix."""
    config, _ = read_stack_config(path)
    prefix = f"{PROJECT}:"
    return {
        key.removeprefix(prefix): decode_value(value)
        for key, value in config.items()
        if key.startswith(prefix)
    }


def existing_stack_file(stack: str, path: Path | None = None) -> Path:
    """`path`, or `Pulumi.<stack>.yaml`, when it exists; `UserError` saying what to create."""
    if path is not None:
        if not path.exists():
            raise UserError(f"no stack config {path} (the file given for stack {stack!r})")
        return path
    path = stack_file(stack)
    if not path.exists():
        raise UserError(f"no stack config {path}; expected Pulumi.{stack}.yaml in {_REPO_ROOT}")
    return path


def load_stack_config(stack: str, path: Path | None = None) -> PlatformConfig:
    """The validated `PlatformConfig` of a stack file (default `Pulumi.<stack>.yaml`)."""
    return parse_config(stack, stack_sections(existing_stack_file(stack, path)))


def _strip_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET, True
        found = False
        result = {}
        for k, v in value.items():
            result[k], inner = _strip_secure(v)
            found = found or inner
        return result, found
    if isinstance(value, list):
        pairs = [_strip_secure(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


def _plain(value: Any) -> Any:
    """Turn a wire-form property value into JSON, replacing secrets and unknowns."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return _redact(value.get("value"))
        if sig == RESOURCE_SIG:
            return {"urn": value.get("urn"), "id": _plain(value.get("id"))}
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value == UNKNOWN_VALUE:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _redact(value: Any) -> Any:
    """A secret value with its shape kept: map keys and list lengths are not secret, leaves are."""
    if isinstance(value, dict) and value.get(SIG_KEY) not in (SECRET_SIG, RESOURCE_SIG):
        return {k: _redact(v) for k, v in sorted(value.items())}
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return _redact(value.get("value"))
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return SECRET


def _provider_urn(reference: str) -> str | None:
    """`urn::id` provider reference -> provider URN."""
    return reference.rsplit("::", 1)[0] if reference else None


LOAD_BALANCER_ADDRESS = "192.0.2.10"
"""What a deploy (not a preview) under mocks gives a LoadBalancer Service: TEST-NET-1."""


class _Mocks(pulumi.runtime.Mocks):
    """Returns inputs as state, with deterministic ids and fake values for generated secrets.

    In a preview, what the cluster assigns (a load balancer's address) stays unknown, as
    the engine shows it; in a simulated deploy (`preview=False`) it gets a documentation
    address, so tests can follow such values into the resources that use them.
    """

    def __init__(self, *, preview: bool = True) -> None:
        super().__init__()
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        if not self.preview and _is_load_balancer(args):
            state["status"] = {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_ADDRESS}]}}
        if args.typ == "random:index/randomPassword:RandomPassword":
            fake = f"mock-{args.name}"
            state |= {"result": fake, "bcryptHash": f"$2a$10$mock{args.name}"}
        if args.typ == "random:index/randomId:RandomId":
            state["b64Url"] = f"mock-{args.name}"
        if args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = f"mock-private-key-{args.name}"
            state["privateKeyPemPkcs8"] = f"mock-private-key-pkcs8-{args.name}"
        if args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            state["certPem"] = f"mock-certificate-{args.name}"
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:mock-{args.inputs.get('name', args.name)}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return {}, None


def _is_load_balancer(args: pulumi.runtime.MockResourceArgs) -> bool:
    spec = args.inputs.get("spec") or {}
    return args.typ == "kubernetes:core/v1:Service" and spec.get("type") == "LoadBalancer"


class _RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps each registration request, in order, in engine wire form."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self.outputs_registered: set[str] = set()

    def RegisterResourceOutputs(self, request: RegisterResourceOutputsRequest) -> Any:
        self.outputs_registered.add(request.urn)
        return super().RegisterResourceOutputs(request)

    def RegisterResource(self, request: RegisterResourceRequest) -> RegisterResourceResponse:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        property_deps = {
            key: sorted(deps.urns)
            for key, deps in sorted(request.propertyDependencies.items())
            if deps.urns
        }
        self.records.append(
            {
                "urn": response.urn,
                "type": request.type,
                "name": request.name,
                "custom": bool(request.custom),
                "parent": request.parent or None,
                "provider": _provider_urn(request.provider),
                "inputs": _plain(inputs),
                "options": {
                    "protect": bool(request.protect),
                    "retain_on_delete": bool(request.retainOnDelete),
                    "delete_before_replace": bool(request.deleteBeforeReplace),
                    "ignore_changes": sorted(request.ignoreChanges),
                    "depends_on": sorted(request.dependencies),
                },
                "dependencies": sorted(
                    {*request.dependencies, *(u for deps in property_deps.values() for u in deps)}
                ),
                "property_dependencies": property_deps,
            }
        )
        return response


@dataclass(frozen=True)
class Render:
    """The resources one stack declares, as the engine would receive them."""

    stack: str
    project: str
    resources: list[dict[str, Any]]
    outputs_registered: frozenset[str] = frozenset()
    """URNs of the components that called `register_outputs` (not part of the JSON)."""

    def to_json(self) -> str:
        """Deterministic JSON: resources sorted by URN, keys sorted."""
        payload = {
            "stack": self.stack,
            "project": self.project,
            "resources": sorted(self.resources, key=lambda r: r["urn"]),
        }
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    def of_type(self, type_token: str) -> list[dict[str, Any]]:
        """Resources whose type token equals `type_token`."""
        return [r for r in self.resources if r["type"] == type_token]

    def named(self, name: str) -> dict[str, Any]:
        """The one resource with this logical name."""
        matches = [r for r in self.resources if r["name"] == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


def render_stack(stack: str, *, config_file: Path | None = None, preview: bool = True) -> Render:
    """Run the program for `stack` under mocks and return what it declares.

    Each render runs in a fresh context (new settings, new root stack resource), so two
    renders in one process never see each other's resources.
    """
    path = existing_stack_file(stack, config_file)
    # Validate first so a bad stack file fails with ConfigError, not inside the mocked engine.
    load_stack_config(stack, path)
    config, secret_keys = read_stack_config(path)
    return _record(stack, config, secret_keys, preview)


def render_program(
    program: Callable[[], None],
    *,
    stack: str,
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = True,
) -> Render:
    """Run any Pulumi program function under mocks, in a fresh context, and record it.

    This is how a stack is rendered, and how tests render a small program (a throwaway
    service, one runtime) with the same recording and the same mocks.
    """
    return _record(stack, config or {}, secret_keys or [], preview, program)


def _record(
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    preview: bool,
    program: Callable[[], None] | None = None,
) -> Render:
    if program is None:
        from infra.program import run  # imported here: the provider SDKs load only to render

        program = run
    mocks = _Mocks(preview=preview)
    monitor = _RecordingMonitor(mocks)
    run_under_mocks(
        program,
        mocks=mocks,
        monitor=monitor,
        project=PROJECT,
        stack=stack,
        preview=preview,
        config=config,
        secret_keys=secret_keys,
    )
    return Render(
        stack=stack,
        project=PROJECT,
        resources=monitor.records,
        outputs_registered=frozenset(monitor.outputs_registered),
    )


def kubernetes_objects(render: Render) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render as a manifest (apiVersion, kind, metadata, ...)."""
    objects = []
    for resource in render.resources:
        if (
            not resource["type"].startswith("kubernetes:")
            or resource["type"] == "pulumi:providers:kubernetes"
        ):
            continue
        inputs = resource["inputs"]
        if "apiVersion" not in inputs or "kind" not in inputs:
            continue
        # A field unknown as a whole in a preview (a Secret's content waiting for a load
        # balancer's address the deploy makes) has no value to write: the manifest omits it.
        objects.append({k: v for k, v in inputs.items() if v not in (UNKNOWN, SECRET)})
    return objects


def manifest_filename(obj: dict[str, Any]) -> str:
    """`<namespace>--<kind>--<name>.yaml`, stable and unique per object."""
    metadata = obj.get("metadata", {})
    parts = [metadata.get("namespace", "cluster"), obj["kind"], metadata.get("name", "unnamed")]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "--".join(parts)).lower() + ".yaml"


_MANIFEST_NAME = re.compile(r"^[a-z0-9_.-]+--[a-z0-9_.-]+--[a-z0-9_.-]+\.yaml$")


def _clear_manifests(directory: Path) -> None:
    """Empty a manifests directory of an earlier render; refuse one that holds anything else.

    `kubectl apply -f DIR` applies every file in DIR, so a manifest left from an earlier
    render would bring back an object the program no longer declares. Only files named
    as `manifest_filename` names them are removed; a directory with any other entry is
    refused (`UserError`) rather than emptied, so no file we did not write is deleted.
    """
    if directory.exists() and not directory.is_dir():
        raise UserError(f"--manifests {directory}: is a file, expected a directory (new or empty)")
    if not directory.exists():
        return
    entries = sorted(directory.iterdir())
    foreign = [e.name for e in entries if not (e.is_file() and _MANIFEST_NAME.match(e.name))]
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" (+{len(foreign) - 3} more)" if len(foreign) > 3 else ""
        )
        raise UserError(
            f"--manifests {directory}: holds files that `dataplatform render` did not write"
            f" ({shown}); choose a new or empty directory"
        )
    for entry in entries:
        entry.unlink()


def write_manifests(render: Render, directory: Path) -> list[Path]:
    """Write each Kubernetes object of the render to its own YAML file in `directory`.

    Manifests of an earlier render in `directory` are removed first, so the directory
    holds exactly this render's objects (`_clear_manifests` says what is refused).
    """
    _clear_manifests(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--manifests {directory}: cannot create ({error.strerror})") from None
    written = []
    for obj in kubernetes_objects(render):
        path = directory / manifest_filename(obj)
        path.write_text(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False))
        written.append(path)
    return sorted(written)
