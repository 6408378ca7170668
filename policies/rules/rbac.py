"""Kubernetes RBAC: no wildcards, no Secrets, no exec or escalation, service accounts
bound per namespace, and the Dagster run launcher's Role limited to what it calls.

Every rule reads any `rbac.authorization.k8s.io/v1` Role, ClusterRole (and their
*Patch types) `rules[]` (`apiGroups`, `resources`, `verbs`, `nonResourceURLs`), and any
RoleBinding/ClusterRoleBinding `subjects[]` and `roleRef`, whoever declared them.
Upstream: kubernetes.io/docs/reference/access-authn-authz/rbac/ and "RBAC good
practices" (kubernetes.io/docs/concepts/security/rbac-good-practices/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules.declare import mandatory_policy

from . import wire
from .images import parse_image

ROLE_KINDS = frozenset({"Role", "ClusterRole"})
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})
ESCALATION_VERBS = frozenset({"escalate", "bind", "impersonate"})
POD_ACCESS = frozenset(
    {"pods/exec", "pods/attach", "pods/portforward", "pods/ephemeralcontainers", "nodes/proxy"}
)
"""Subresources that run commands in, attach to or tunnel into a workload (or a node)."""
EVERYONE = frozenset({"system:authenticated", "system:unauthenticated", "system:anonymous"})
_SA_GROUP = re.compile(r"^system:serviceaccounts(:|$)")

_READ = ["get", "list", "watch"]
_JOB_VERBS = ["create", "delete", *_READ]
LAUNCHER_SCHEMA: dict[str, dict[str, Any]] = {
    "dagsterCommandPattern": {
        "type": "string",
        "default": r"(^|[\s/])dagster(-daemon|-webserver)?(\s|$)",
        "description": "A container whose command line matches this runs Dagster.",
    },
    "dagsterImagePattern": {
        "type": "string",
        "default": r"(^|/)dagster[^/]*$",
        "description": "A container whose image repository matches this runs Dagster.",
    },
    "allowedRules": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "apiGroup": {"type": "string"},
                "resource": {"type": "string"},
                "verbs": {"type": "array", "items": {"type": "string"}},
            },
        },
        "default": [
            {"apiGroup": "batch", "resource": "jobs", "verbs": _JOB_VERBS},
            {"apiGroup": "batch", "resource": "jobs/status", "verbs": _READ},
            {"apiGroup": "", "resource": "pods", "verbs": ["delete", *_READ]},
            {"apiGroup": "", "resource": "pods/log", "verbs": _READ},
            {"apiGroup": "", "resource": "pods/status", "verbs": _READ},
            {"apiGroup": "", "resource": "events", "verbs": _READ},
        ],
        "description": (
            "What a Dagster run launcher may do (core group: apiGroup ''). From "
            "dagster_k8s's calls: create and delete Jobs, read their status, read and "
            "delete their pods, read pod logs and events; read verbs (get, list, watch) "
            "on those are allowed too."
        ),
    },
}


def _kind(resource_type: str) -> str | None:
    kind = wire.kubernetes_kind(resource_type)
    if kind is not None and kind.endswith("Patch"):
        kind = kind[: -len("Patch")]
    if kind is None or not resource_type.startswith("kubernetes:rbac.authorization.k8s.io/"):
        return None
    return kind


@dataclass(frozen=True)
class Rule:
    """One PolicyRule with its known strings (unknown entries dropped)."""

    index: int
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    urls: tuple[str, ...]

    def describe(self) -> str:
        """`rules[i]` with what it grants, for messages."""
        what = ",".join(self.resources or self.urls)
        groups = ",".join(g or '""' for g in self.api_groups)
        return f"rules[{self.index}] ({','.join(self.verbs)} on {what} in apiGroups {groups})"

    @property
    def core(self) -> bool:
        """True when the rule covers the core ("") API group."""
        return "" in self.api_groups or "*" in self.api_groups


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(t for t in (wire.text(v) for v in wire.elements(value)) if t is not None)


def role_rules(props: Any) -> list[Rule]:
    """Every rule of a Role/ClusterRole's inputs."""
    return [
        Rule(
            index,
            _strings(wire.get(rule, "apiGroups")),
            _strings(wire.get(rule, "resources")),
            _strings(wire.get(rule, "verbs")),
            _strings(wire.get(rule, "nonResourceURLs")),
        )
        for index, rule in enumerate(wire.elements(wire.get(props, "rules")))
    ]


def _role_rules(args: ResourceValidationArgs) -> Iterator[Rule]:
    if _kind(args.resource_type) in ROLE_KINDS:
        yield from role_rules(args.props)


def _wildcard(value: str) -> bool:
    return value == "*" or value.startswith("*/") or value.endswith("/*")


def validate_no_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No rule grants `*` verbs, resources (incl. `*/sub`, `res/*`), apiGroups or URLs."""
    for rule in _role_rules(args):
        fields = {
            "verbs": rule.verbs,
            "resources": rule.resources,
            "apiGroups": rule.api_groups,
            "nonResourceURLs": rule.urls,
        }
        wild = [f"{key} {v!r}" for key, values in fields.items() for v in values if _wildcard(v)]
        if wild:
            report(
                f"{_kind(args.resource_type)} '{args.name}' {rule.describe()} uses wildcards "
                f"({', '.join(wild)}): it grants whatever exists now and every API added later.",
                None,
            )


def validate_no_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No rule grants any verb on core `secrets` (list and watch return their values)."""
    for rule in _role_rules(args):
        if rule.core and "secrets" in rule.resources and rule.verbs:
            report(
                f"{_kind(args.resource_type)} '{args.name}' {rule.describe()} reaches Secrets: "
                "every credential in scope becomes readable (list/watch return values too).",
                None,
            )


def validate_no_escalation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No rule grants escalate, bind or impersonate, or creates service account tokens."""
    for rule in _role_rules(args):
        verbs = sorted(ESCALATION_VERBS & set(rule.verbs))
        if verbs:
            report(
                f"{_kind(args.resource_type)} '{args.name}' {rule.describe()} grants "
                f"{', '.join(verbs)}: the holder can give itself (or act as) any other role.",
                None,
            )
        if rule.core and "serviceaccounts/token" in rule.resources and "create" in rule.verbs:
            report(
                f"{_kind(args.resource_type)} '{args.name}' {rule.describe()} mints service "
                "account tokens: the holder can act as any account in scope.",
                None,
            )


def validate_no_pod_exec(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No rule grants pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers
    or nodes/proxy."""
    for rule in _role_rules(args):
        found = sorted(POD_ACCESS & set(rule.resources))
        if found and rule.verbs:
            report(
                f"{_kind(args.resource_type)} '{args.name}' {rule.describe()} grants "
                f"{', '.join(found)}: the holder can run commands in, attach to or tunnel "
                "into other workloads and read their mounted secrets.",
                None,
            )


@dataclass(frozen=True)
class Subject:
    """One binding subject: kind, name and (service accounts) namespace."""

    kind: str
    name: str
    namespace: str | None


def binding_subjects(props: Any, binding_namespace: str | None) -> list[Subject]:
    """The known subjects of a binding (a ServiceAccount without a namespace is in the
    binding's own namespace)."""
    found: list[Subject] = []
    for entry in wire.elements(wire.get(props, "subjects")):
        kind, name = wire.text(wire.get(entry, "kind")), wire.text(wire.get(entry, "name"))
        if kind is None or name is None:
            continue
        namespace = wire.text(wire.get(entry, "namespace")) or binding_namespace
        found.append(Subject(kind, name, namespace))
    return found


def validate_namespaced_bindings(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No ClusterRoleBinding binds a ServiceAccount or service-account group: a workload's
    powers stay inside its namespace (a RoleBinding, possibly to a ClusterRole)."""
    if _kind(args.resource_type) != "ClusterRoleBinding":
        return
    for subject in binding_subjects(args.props, None):
        service_account = subject.kind == "ServiceAccount"
        if service_account or (subject.kind == "Group" and _SA_GROUP.match(subject.name)):
            who = (
                f"ServiceAccount {subject.namespace}/{subject.name}"
                if service_account
                else f"Group {subject.name}"
            )
            report(
                f"ClusterRoleBinding '{args.name}' binds {who} cluster-wide: a pod of that "
                "account holds its role in every namespace.",
                None,
            )


def validate_no_everyone(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No binding grants anything to system:authenticated, system:unauthenticated or
    system:anonymous."""
    if _kind(args.resource_type) not in BINDING_KINDS:
        return
    for subject in binding_subjects(args.props, None):
        if subject.kind in ("Group", "User") and subject.name in EVERYONE:
            report(
                f"{_kind(args.resource_type)} '{args.name}' binds {subject.kind} "
                f"{subject.name}: every (or any anonymous) caller gets the role.",
                None,
            )


# --- the Dagster run launcher ---------------------------------------------------------------


def _runs_dagster(container: Any, command: re.Pattern[str], image: re.Pattern[str]) -> bool:
    words = wire.command_line(container)
    reference = wire.text(wire.get(container, "image"))
    repository = parse_image(reference).repository if reference else ""
    return any(command.search(w) for w in words) or bool(image.search(repository))


def _dagster_accounts(args: StackValidationArgs) -> dict[tuple[str, str], str]:
    """{(namespace, service account): workload} of every pod spec running Dagster."""
    command = re.compile(str(wire.setting(args, LAUNCHER_SCHEMA, "dagsterCommandPattern")))
    image = re.compile(str(wire.setting(args, LAUNCHER_SCHEMA, "dagsterImagePattern")))
    found: dict[tuple[str, str], str] = {}
    for resource in args.resources:
        spec = wire.pod_spec(resource.resource_type, resource.props)
        if spec is None or wire.is_unknown(spec):
            continue
        if not any(_runs_dagster(c, command, image) for c in wire.containers(spec)):
            continue
        namespace = wire.namespace_of(resource.props)
        account = wire.get(spec, "serviceAccountName")
        if namespace is None or wire.is_unknown(account):
            continue
        found[(namespace, wire.text(account) or "default")] = resource.name
    return found


def _allowed(args: StackValidationArgs) -> dict[tuple[str, str], set[str]]:
    """{(apiGroup, resource): verbs} from the allowedRules setting."""
    allowed: dict[tuple[str, str], set[str]] = {}
    for entry in wire.setting(args, LAUNCHER_SCHEMA, "allowedRules"):
        key = (str(wire.get(entry, "apiGroup", default="")), str(wire.get(entry, "resource")))
        allowed.setdefault(key, set()).update(
            str(v) for v in wire.elements(wire.get(entry, "verbs"))
        )
    return allowed


def _roles(resources: list[PolicyResource]) -> dict[tuple[str, str | None, str], PolicyResource]:
    """{(kind, namespace or None for ClusterRoles, name): resource}."""
    found: dict[tuple[str, str | None, str], PolicyResource] = {}
    for resource in resources:
        kind = _kind(resource.resource_type)
        if kind not in ROLE_KINDS:
            continue
        name = wire.text(wire.get(resource.props, "metadata", "name")) or resource.name
        namespace = wire.namespace_of(resource.props) if kind == "Role" else None
        found[(kind, namespace, name)] = resource
    return found


def _excess(rule: Rule, allowed: dict[tuple[str, str], set[str]]) -> list[str]:
    """`group/resource:verb` grants of a rule beyond the allowlist."""
    excess: list[str] = []
    for group in rule.api_groups or ("",):
        for resource in rule.resources:
            for verb in rule.verbs:
                if verb not in allowed.get((group, resource), set()):
                    excess.append(f"{group + '/' if group else ''}{resource}:{verb}")
    excess += [f"{url}:{verb}" for url in rule.urls for verb in rule.verbs]
    return excess


def validate_run_launcher(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every role bound to the service account of a pod running Dagster grants nothing
    beyond the run launcher's allowlist."""
    resources = list(args.resources)
    accounts = _dagster_accounts(args)
    if not accounts:
        return
    roles = _roles(resources)
    allowed = _allowed(args)
    for binding in resources:
        kind = _kind(binding.resource_type)
        if kind not in BINDING_KINDS:
            continue
        namespace = wire.namespace_of(binding.props) if kind == "RoleBinding" else None
        bound = [
            accounts[(s.namespace or "", s.name)]
            for s in binding_subjects(binding.props, namespace)
            if s.kind == "ServiceAccount" and (s.namespace or "", s.name) in accounts
        ]
        if not bound:
            continue
        ref_kind = wire.text(wire.get(binding.props, "roleRef", "kind")) or ""
        ref_name = wire.text(wire.get(binding.props, "roleRef", "name")) or ""
        role = roles.get((ref_kind, namespace if ref_kind == "Role" else None, ref_name))
        if role is None:
            continue
        excess = [e for rule in role_rules(role.props) for e in _excess(rule, allowed)]
        if excess:
            report(
                f"{ref_kind} '{ref_name}', bound to the Dagster workload(s) "
                f"{', '.join(sorted(set(bound)))} by {kind} '{binding.name}', grants more "
                f"than launching runs needs: {', '.join(sorted(set(excess)))}.",
                role.urn,
            )


# --- API tokens -----------------------------------------------------------------------------


def _bound_accounts(resources: list[PolicyResource]) -> set[tuple[str, str]] | None:
    """(namespace, service account) of every ServiceAccount subject of any binding; None
    when a binding's subjects are unknown (then no pod can be judged)."""
    bound: set[tuple[str, str]] = set()
    for resource in resources:
        kind = _kind(resource.resource_type)
        if kind not in BINDING_KINDS:
            continue
        if wire.is_unknown(wire.get(resource.props, "subjects")):
            return None
        namespace = wire.namespace_of(resource.props) if kind == "RoleBinding" else None
        for subject in binding_subjects(resource.props, namespace):
            if subject.kind == "ServiceAccount" and subject.namespace:
                bound.add((subject.namespace, subject.name))
    return bound


def _account_automount(resources: list[PolicyResource]) -> dict[tuple[str, str], Any]:
    """{(namespace, name): automountServiceAccountToken} of every declared ServiceAccount."""
    found: dict[tuple[str, str], Any] = {}
    for resource in resources:
        if wire.kubernetes_kind(resource.resource_type) != "ServiceAccount":
            continue
        namespace = wire.namespace_of(resource.props)
        name = wire.text(wire.get(resource.props, "metadata", "name")) or resource.name
        if namespace is not None:
            found[(namespace, name)] = wire.get(resource.props, "automountServiceAccountToken")
    return found


def validate_api_tokens(args: StackValidationArgs, report: ReportViolation) -> None:
    """A pod mounts a Kubernetes API token only when a binding gives its account a role."""
    resources = list(args.resources)
    bound = _bound_accounts(resources)
    if bound is None:
        return
    automount = _account_automount(resources)
    for resource in resources:
        kind = wire.workload_kind(resource.resource_type)
        spec = wire.pod_spec(resource.resource_type, resource.props)
        # A PodTemplate runs no pod; a *Patch leaves out what it does not change.
        whole = kind == wire.kubernetes_kind(resource.resource_type) and kind != "PodTemplate"
        if not whole or spec is None or wire.is_unknown(spec):
            continue
        namespace = wire.namespace_of(resource.props)
        account = wire.get(spec, "serviceAccountName")
        if namespace is None or wire.is_unknown(account):
            continue
        key = (namespace, wire.text(account) or "default")
        mounted = wire.get(spec, "automountServiceAccountToken")
        if mounted is None:
            mounted = automount.get(key)  # the account's setting; Kubernetes' default: true
        if wire.is_unknown(mounted) or mounted is False or key in bound:
            continue
        report(
            f"{kind} '{resource.name}' mounts an API token of ServiceAccount "
            f"{key[0]}/{key[1]}, which no binding gives a role: set "
            "automountServiceAccountToken: false.",
            resource.urn,
        )


def _policy(
    name: str, description: str, validate: Any, severity: Severity, remediation: str
) -> ResourceValidationPolicy:
    return mandatory_policy(
        name,
        description,
        validate,
        severity=severity,
        remediation=remediation,
        tags=("kubernetes", "rbac"),
    )


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    _policy(
        "rbac-no-wildcards",
        "No Role or ClusterRole rule uses a wildcard: '*' in verbs, resources (also "
        "'*/scale', 'pods/*'), apiGroups or nonResourceURLs.",
        validate_no_wildcards,
        Severity.HIGH,
        "List the apiGroups, resources and verbs the workload calls.",
    ),
    _policy(
        "rbac-no-secrets-access",
        "No Role or ClusterRole rule grants any verb on core Secrets (get, list, watch "
        "all return values); workloads receive their own secrets as mounted files.",
        validate_no_secrets,
        Severity.CRITICAL,
        "Mount the Secret the workload needs as a volume instead of granting API access.",
    ),
    _policy(
        "rbac-no-escalation-verbs",
        "No Role or ClusterRole rule grants escalate, bind or impersonate, or create on "
        "serviceaccounts/token: each lets the holder act with more than its own role.",
        validate_no_escalation,
        Severity.CRITICAL,
        "Remove the verbs; let platform operators, not workloads, manage roles and tokens.",
    ),
    _policy(
        "rbac-no-pod-exec",
        "No Role or ClusterRole rule grants pods/exec, pods/attach, pods/portforward, "
        "pods/ephemeralcontainers or nodes/proxy: each reaches into other workloads.",
        validate_no_pod_exec,
        Severity.HIGH,
        "Remove the subresource; read logs through pods/log if the workload needs them.",
    ),
    _policy(
        "rbac-service-accounts-namespaced",
        "No ClusterRoleBinding binds a ServiceAccount or a system:serviceaccounts group: a "
        "workload's API powers are granted by a RoleBinding in its own namespace.",
        validate_namespaced_bindings,
        Severity.HIGH,
        "Bind a Role (or the ClusterRole as a template) with a RoleBinding in the "
        "namespace the workload acts in.",
    ),
    _policy(
        "rbac-no-bindings-to-everyone",
        "No RoleBinding or ClusterRoleBinding binds system:authenticated, "
        "system:unauthenticated or system:anonymous.",
        validate_no_everyone,
        Severity.CRITICAL,
        "Bind the named ServiceAccounts or groups that need the role.",
    ),
    StackValidationPolicy(
        name="pod-api-token-only-with-role",
        description=(
            "A pod (any pod spec) mounts a Kubernetes API token only when its service "
            "account (serviceAccountName, else 'default') is a subject of a RoleBinding or "
            "ClusterRoleBinding: automountServiceAccountToken false on the pod, or on the "
            "ServiceAccount, otherwise (Kubernetes mounts one by default). Mirrors checkov "
            "CKV_K8S_38."
        ),
        validate=validate_api_tokens,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        remediation_steps=(
            "Give the workload its own ServiceAccount with automountServiceAccountToken: "
            "false (the runtime's default), or bind it the namespaced Role it needs."
        ),
        tags=["kubernetes", "rbac"],
    ),
    StackValidationPolicy(
        name="dagster-run-launcher-least-privilege",
        description=(
            "Every Role or ClusterRole bound (RoleBinding or ClusterRoleBinding) to the "
            "service account of a pod running Dagster (command dagster/dagster-daemon/"
            "dagster-webserver, or a dagster* image) grants only what launching and "
            "terminating runs needs (allowedRules: Jobs create/delete/get/list/watch, "
            "their status, their pods read/delete, pod logs, events); nothing else."
        ),
        validate=validate_run_launcher,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties=LAUNCHER_SCHEMA),
        remediation_steps=(
            "Give the daemon and webserver accounts the Role of "
            "components/dagster/files.py run_launcher_role_rules() in the runs' namespace."
        ),
        tags=["kubernetes", "rbac", "dagster"],
    ),
]
"""The RBAC policies."""
