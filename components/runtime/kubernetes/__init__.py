"""Kubernetes runtime: one namespace per stack; workloads as Deployments, StatefulSets, Jobs.

Modules, one concern each: `settings` (where to deploy), `runtime` (the namespace and the
per-workload orchestration), `placement` (names, labels and options one workload's objects
share), `pods` (pod templates: containers, probes, files, security), `files` (ConfigMaps
and Secrets), `identity` (ServiceAccounts and RBAC), `controllers` (Deployment,
StatefulSet, Job, CronJob, PodDisruptionBudget), `services` (Services) and `network`
(NetworkPolicies).
"""

from components.runtime.kubernetes.runtime import KubernetesRuntime
from components.runtime.kubernetes.settings import KubernetesSettings

__all__ = ["KubernetesRuntime", "KubernetesSettings"]
