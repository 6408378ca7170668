"""Reading resource inputs in the engine's wire form safely.

Rules read `args.props`, which the policy SDK wraps in a proxy that raises
`UnknownValueError` when a value is unknown during preview. Every accessor here
turns such a value (or the offline render's "[unknown]" marker) into `UNKNOWN`, so a
rule can skip what it cannot judge instead of crashing. Nothing here knows our
program: it knows Kubernetes, Docker, MinIO and PostgreSQL wire shapes only.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi.runtime.rpc import UNKNOWN as ENGINE_UNKNOWN
from pulumi_policy import proxy
from pulumi_policy.proxy import UnknownValueError

UNKNOWN_MARKERS = frozenset(
    {
        "[unknown]",
        ENGINE_UNKNOWN,
        proxy.UNKNOWN_BOOLEAN_VALUE,
        proxy.UNKNOWN_NUMBER_VALUE,
        proxy.UNKNOWN_STRING_VALUE,
        proxy.UNKNOWN_ARRAY_VALUE,
        proxy.UNKNOWN_ASSET_VALUE,
        proxy.UNKNOWN_ARCHIVE_VALUE,
        proxy.UNKNOWN_OBJECT_VALUE,
    }
)
"""Strings that stand for a value not known yet: the offline render's "[unknown]" marker,
the engine's unknown value (`pulumi.runtime.rpc.UNKNOWN`) and the policy SDK's typed
unknown sentinels (`pulumi_policy.proxy.UNKNOWN_*_VALUE`), taken from the SDKs themselves
(both are installed wherever the pack runs) rather than copied."""

SECRET_MARKER = "[secret]"
"""How an offline render shows a Pulumi secret."""


class _Unknown:
    """The single value standing for "not known during preview"."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()
"""Returned by every accessor in place of an unknown value."""

WORKLOAD_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Pod",
        "ReplicaSet",
        "ReplicationController",
        "PodTemplate",
    }
)
"""Kubernetes kinds that carry a pod spec (PodTemplate runs none itself but stamps pods)."""

_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""Where a kind keeps its pod spec; every other workload kind uses spec.template.spec."""

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
"""Every container list of a Kubernetes pod spec (PodSpec v1)."""

ENV_LABEL = "dataplatform.io/environment"
OWNER_LABEL = "dataplatform.io/owner"
COST_CENTER_LABEL = "dataplatform.io/cost-center"
CLASSIFICATION_LABEL = "dataplatform.io/data-classification"
SIZE_LABEL = "dataplatform.io/requested-size"

DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_VOLUME = "docker:index/volume:Volume"
DOCKER_IMAGE = "docker:index/remoteImage:RemoteImage"
MINIO_BUCKET = "minio:index/s3Bucket:S3Bucket"
MINIO_VERSIONING = "minio:index/s3BucketVersioning:S3BucketVersioning"
MINIO_ILM = "minio:index/ilmPolicy:IlmPolicy"
MINIO_BUCKET_POLICY = "minio:index/s3BucketPolicy:S3BucketPolicy"
MINIO_IAM_POLICY = "minio:index/iamPolicy:IamPolicy"
PG_DATABASE = "postgresql:index/database:Database"


def is_unknown(value: Any) -> bool:
    """True for `UNKNOWN` and for the unknown markers of the engine and the render."""
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_MARKERS)


def is_secret_or_unknown(value: Any) -> bool:
    """True when a value is hidden (a Pulumi secret in a render) or not known yet."""
    return is_unknown(value) or value == SECRET_MARKER


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]...`; `default` when a key is missing, `UNKNOWN` when unknown."""
    current = obj
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        try:
            if isinstance(key, int):
                if not isinstance(current, Sequence) or isinstance(current, str):
                    return default
                if key >= len(current):
                    return default
                current = current[key]
            else:
                if not isinstance(current, Mapping) or key not in current:
                    return default
                current = current[key]
        except UnknownValueError:
            return UNKNOWN
    if is_unknown(current):
        return UNKNOWN
    return current


def items(obj: Any) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs of a mapping; unknown values come back as `UNKNOWN`."""
    if not isinstance(obj, Mapping):
        return
    for key in list(obj):
        yield str(key), get(obj, str(key))


def elements(obj: Any) -> list[Any]:
    """The elements of a list (unknown ones as `UNKNOWN`); [] for anything else."""
    if isinstance(obj, str) or not isinstance(obj, Sequence):
        return []
    return [get(obj, i) for i in range(len(obj))]


def text(value: Any) -> str | None:
    """`value` when it is a known string, else None."""
    return value if isinstance(value, str) and not is_unknown(value) else None


def kubernetes_kind(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; None for other providers."""
    if not resource_type.startswith("kubernetes:") or resource_type.startswith("kubernetes:yaml"):
        return None
    return resource_type.rsplit(":", 1)[-1]


def labels(resource_type: str, props: Any) -> dict[str, Any]:
    """A resource's labels: Kubernetes `metadata.labels`, Docker `labels: [{label, value}]`."""
    if kubernetes_kind(resource_type):
        return dict(items(get(props, "metadata", "labels")))
    if resource_type.startswith("docker:"):
        result: dict[str, Any] = {}
        for entry in elements(get(props, "labels")):
            key = text(get(entry, "label"))
            if key is not None:
                result[key] = get(entry, "value")
        return result
    return {}


def labels_unknown(resource_type: str, props: Any) -> bool:
    """True when a resource's label set as a whole is not known yet."""
    if kubernetes_kind(resource_type):
        return is_unknown(get(props, "metadata")) or is_unknown(get(props, "metadata", "labels"))
    return resource_type.startswith("docker:") and is_unknown(get(props, "labels"))


def workload_kind(resource_type: str) -> str | None:
    """The kind whose pod spec a resource carries: `Deployment` for both
    `kubernetes:apps/v1:Deployment` and `kubernetes:apps/v1:DeploymentPatch`; None otherwise."""
    kind = kubernetes_kind(resource_type)
    if kind is not None and kind.endswith("Patch"):
        kind = kind[: -len("Patch")]
    return kind if kind in WORKLOAD_KINDS else None


def _pod_path(kind: str) -> tuple[str, ...]:
    return _POD_SPEC_PATHS.get(kind, ("spec", "template", "spec"))


def pod_spec(resource_type: str, props: Any) -> Any:
    """The pod spec of any resource that carries one (also *Patch kinds), else None.

    Pod: `spec`; PodTemplate: `template.spec`; CronJob:
    `spec.jobTemplate.spec.template.spec`; Deployment, StatefulSet, DaemonSet,
    ReplicaSet, ReplicationController, Job: `spec.template.spec`. UNKNOWN when unknown;
    an empty mapping when the (patch) resource leaves it out.
    """
    kind = workload_kind(resource_type)
    if kind is None:
        return None
    spec = get(props, *_pod_path(kind))
    return {} if spec is None else spec


def pod_template_labels(resource_type: str, props: Any) -> dict[str, Any] | None:
    """Labels of the pods a workload creates (None for non-workloads or when unknown)."""
    kind = workload_kind(resource_type)
    if kind is None:
        return None
    if kind == "Pod":
        path: tuple[str, ...] = ("metadata", "labels")
    else:
        path = (*_pod_path(kind)[:-1], "metadata", "labels")
    for depth in range(1, len(path) + 1):
        if is_unknown(get(props, *path[:depth])):
            return None
    return dict(items(get(props, *path)))


def containers(spec: Any, *, include_init: bool = True) -> list[Any]:
    """Containers of a pod spec (init and ephemeral ones too unless `include_init=False`)."""
    return [c for where, c in container_entries(spec) if include_init or where == "containers"]


def container_entries(spec: Any) -> list[tuple[str, Any]]:
    """(list name, container) of every container of every list in a pod spec.

    The list name is `containers`, `initContainers` or `ephemeralContainers`; unknown
    lists and unknown entries are skipped.
    """
    result: list[tuple[str, Any]] = []
    for key in CONTAINER_LISTS:
        result += [(key, c) for c in elements(get(spec, key)) if isinstance(c, Mapping)]
    return result


def long_running(list_name: str, container: Any) -> bool:
    """True for a container that keeps running: app containers and native sidecars
    (init containers with restartPolicy Always); never ordinary init or ephemeral ones."""
    if list_name == "containers":
        return True
    return list_name == "initContainers" and get(container, "restartPolicy") == "Always"


def container_name(container: Any) -> str:
    """A container's name for messages."""
    return text(get(container, "name")) or "<unnamed>"


def replicas(resource_type: str, props: Any) -> int | None:
    """Declared replicas of a workload (Kubernetes default 1); None when unknown.

    Jobs and CronJobs count their parallelism, a PodTemplate runs no pod (0).
    """
    kind = workload_kind(resource_type)
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        value = get(props, "spec", "replicas", default=1)
    elif kind == "Job":
        value = get(props, "spec", "parallelism", default=1)
    elif kind == "CronJob":
        value = get(props, "spec", "jobTemplate", "spec", "parallelism", default=1)
    elif kind == "PodTemplate":
        value = 0
    else:
        value = 1
    if is_unknown(value) or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return int(value)


def shown(value: Any) -> str:
    """A value for messages: the engine sends numbers as floats, so 3.0 shows as 3."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def namespace_of(props: Any) -> str | None:
    """A namespaced object's namespace (`default` when unset); None when unknown."""
    value = get(props, "metadata", "namespace")
    if is_unknown(value):
        return None
    return text(value) or "default"


def selector_matches(selector: Any, pod_labels: Mapping[str, Any]) -> bool | None:
    """Whether a LabelSelector selects pods with these labels; None when unknown.

    Follows the LabelSelector semantics of apimachinery: `matchLabels` AND every
    `matchExpressions` entry (In, NotIn, Exists, DoesNotExist); an empty selector
    selects everything. A missing (None) selector selects nothing.
    """
    if selector is None:
        return False
    if is_unknown(selector) or not isinstance(selector, Mapping):
        return None
    match = get(selector, "matchLabels")
    if is_unknown(match):
        return None
    for key, value in items(match):
        if is_unknown(value):
            return None
        if pod_labels.get(key) != value:
            return False
    for expression in elements(get(selector, "matchExpressions")):
        key = text(get(expression, "key"))
        operator = text(get(expression, "operator"))
        values = [text(v) for v in elements(get(expression, "values"))]
        if key is None or operator is None:
            return None
        present = key in pod_labels
        if operator == "In" and not (present and pod_labels[key] in values):
            return False
        if operator == "NotIn" and present and pod_labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def boolean(value: Any) -> bool | None:
    """A boolean input that may arrive as a bool or as its JSON text ("true"/"false")
    (provider configuration is sent as strings); None when missing, unknown or odd."""
    if isinstance(value, bool):
        return value
    lowered = (text(value) or "").strip().lower()
    return {"true": True, "false": False}.get(lowered)


def command_line(container: Any) -> list[str]:
    """A container's command followed by its args (Kubernetes `command`+`args`, Docker
    `entrypoints`+`command`), known strings only."""
    words: list[str] = []
    for key in ("command", "args", "entrypoints"):
        words += [w for w in (text(x) for x in elements(get(container, key))) if w is not None]
    return words


def env_literals(spec: Any) -> list[tuple[str, str, Any]]:
    """(container, variable, value) of every env entry with a literal `value` in every
    container list of a pod spec."""
    found: list[tuple[str, str, Any]] = []
    for _, container in container_entries(spec):
        for entry in elements(get(container, "env")):
            name = text(get(entry, "name"))
            value = get(entry, "value")
            if name is not None and value is not None:
                found.append((container_name(container), name, value))
    return found


def docker_env(props: Any) -> list[tuple[str, Any]]:
    """(variable, value) of a Docker container's `envs` ("K=V"); a secret or unknown
    entry comes back as ("", marker)."""
    found: list[tuple[str, Any]] = []
    for entry in elements(get(props, "envs")):
        raw = text(entry)
        if raw is None or raw == SECRET_MARKER:
            found.append(("", SECRET_MARKER if raw == SECRET_MARKER else UNKNOWN))
        elif "=" in raw:
            name, _, value = raw.partition("=")
            found.append((name, value))
    return found


def config_files(resource_type: str, props: Any) -> list[tuple[str, str]]:
    """(file name, content) of every known plain-text config file a resource delivers.

    Kubernetes ConfigMap `data` entries (key is the file name) and `binaryData` entries
    (base64, decoded as UTF-8 where they are text), and Docker container `uploads`
    (`file` is the path; `content`, or `contentBase64` decoded); secret or unknown
    contents are skipped.
    """
    files: list[tuple[str, str]] = []
    if kubernetes_kind(resource_type) == "ConfigMap":
        files += _entries(get(props, "data"), base64_encoded=False)
        files += _entries(get(props, "binaryData"), base64_encoded=True)
    elif resource_type == DOCKER_CONTAINER:
        for upload in elements(get(props, "uploads")):
            name = text(get(upload, "file"))
            content = text(get(upload, "content"))
            if content is None:
                content = _decode_base64(get(upload, "contentBase64"))
            if name is not None and content is not None and content != SECRET_MARKER:
                files.append((name, content))
    return files


def visible_files(resource_type: str, props: Any) -> list[tuple[str, str]]:
    """`config_files` plus a Kubernetes Secret's `stringData` and (base64) `data` entries
    where their content is visible: a real preview hands the pack a secret's plaintext,
    an offline render shows "[secret]" (skipped)."""
    files = config_files(resource_type, props)
    if kubernetes_kind(resource_type) == "Secret":
        files += _entries(get(props, "stringData"), base64_encoded=False)
        files += _entries(get(props, "data"), base64_encoded=True)
    return files


def _entries(mapping: Any, *, base64_encoded: bool) -> list[tuple[str, str]]:
    """(key, text) of a ConfigMap/Secret data mapping; hidden, unknown or binary skipped."""
    found: list[tuple[str, str]] = []
    for key, value in items(mapping):
        content = _decode_base64(value) if base64_encoded else text(value)
        if content is not None and content != SECRET_MARKER:
            found.append((key, content))
    return found


def _decode_base64(value: Any) -> str | None:
    raw = text(value)
    if raw is None or raw == SECRET_MARKER:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


_CPU = re.compile(r"^([0-9.]+)(m?)$")
_MEMORY = re.compile(r"^([0-9.]+)([EPTGMK]i?|[kmEPTGM]|)$")
_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def cpu_cores(value: Any) -> float | None:
    """A Kubernetes CPU quantity ("500m", "2", 1.5) in cores; None if not parseable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _CPU.match(text(value) or "")
    if not match:
        return None
    number = float(match.group(1))
    return number / 1000 if match.group(2) else number


def memory_bytes(value: Any) -> int | None:
    """A Kubernetes memory/storage quantity ("512Mi", "4Gi", "1G") in bytes; None if not."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = _MEMORY.match(text(value) or "")
    if not match:
        return None
    suffix = match.group(2)
    if suffix == "m":  # milli-bytes: legal but absurd
        return int(float(match.group(1)) / 1000)
    return int(float(match.group(1)) * _MEMORY_FACTORS[suffix])


def format_bytes(value: float) -> str:
    """Bytes as Gi with two decimals."""
    return f"{value / 2**30:.2f}Gi"


def load_json(content: str) -> Any:
    """JSON text -> value, or None when it is not valid JSON."""
    try:
        return json.loads(content)
    except ValueError:
        return None


def parse_properties(content: str) -> dict[str, str]:
    """`key=value` / `key: value` / `key = value` lines (Java properties, postgresql.conf).

    Comments (`#`, `!`) and blank lines are ignored; trailing `# comments` and single
    quotes around postgresql.conf values are stripped. The last assignment wins, as in
    both formats.
    """
    result: dict[str, str] = {}
    for raw in content.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:=|:|\s)\s*(.*)$", line)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if value.startswith("'"):
            end = value.find("'", 1)
            while end != -1 and value[end : end + 2] == "''":
                end = value.find("'", end + 2)
            value = value[1:end].replace("''", "'") if end != -1 else value[1:]
        else:
            value = value.split("#", 1)[0].strip()
        result[key] = value
    return result


def config(args: Any) -> Mapping[str, Any]:
    """The policy's configuration (empty when none was given)."""
    try:
        value = args.get_config()
    except AttributeError:
        return {}
    return value if isinstance(value, Mapping) else {}


def setting(args: Any, schema: Mapping[str, Mapping[str, Any]], key: str) -> Any:
    """A config property of the policy, else the `default` its schema declares."""
    value = config(args).get(key)
    if value is None:
        return schema.get(key, {}).get("default")
    return value
