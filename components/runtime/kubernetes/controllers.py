"""Controllers that run a workload's pods: Deployment, StatefulSet, Job, CronJob, and PDBs.

Stateful sets are protected in prod; their claim templates carry only labels fixed for the
volume's life (Kubernetes forbids updating them). Jobs never retry forever and keep a
short history. https://kubernetes.io/docs/concepts/workloads/controllers/
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.runtime import labels
from components.runtime.kubernetes.placement import Placement
from components.runtime.kubernetes.pods import pod_template
from components.runtime.workload import WorkloadKind

core = k8s.core.v1
apps = k8s.apps.v1
batch = k8s.batch.v1
meta = k8s.meta.v1
policy = k8s.policy.v1

JOB_BACKOFF_LIMIT = 3
JOB_HISTORY = 3


def _selector(place: Placement) -> meta.LabelSelectorArgs:
    return meta.LabelSelectorArgs(match_labels=labels.selector_labels(place.workload.identity))


def stateful_set(
    place: Placement,
    *,
    governing_service: str,
    storage_class: str | None,
    opts: pulumi.ResourceOptions,
) -> apps.StatefulSet:
    """A StatefulSet with one claim template per volume, updated one ordered pod at a time."""
    workload = place.workload
    return apps.StatefulSet(
        place.prefix,
        metadata=place.meta(place.name),
        spec=apps.StatefulSetSpecArgs(
            service_name=governing_service,
            replicas=workload.replicas,
            selector=_selector(place),
            template=pod_template(workload, place.labels),
            pod_management_policy="OrderedReady",
            update_strategy=apps.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
            volume_claim_templates=[
                core.PersistentVolumeClaimArgs(
                    metadata=meta.ObjectMetaArgs(
                        name=volume.name,
                        labels=labels.volume_claim_labels(place.stack, workload.identity),
                    ),
                    spec=core.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteOnce"],
                        storage_class_name=storage_class,
                        resources=core.VolumeResourceRequirementsArgs(
                            requests={"storage": volume.size}
                        ),
                    ),
                )
                for volume in workload.volumes
            ],
        ),
        opts=opts,
    )


def deployment(place: Placement, *, opts: pulumi.ResourceOptions) -> apps.Deployment:
    """A Deployment that surges one new pod before it removes an old one; a single-instance
    workload is recreated instead (every old pod is gone before a new one is created)."""
    strategy = (
        apps.DeploymentStrategyArgs(type="Recreate")
        if place.workload.single_instance
        else apps.DeploymentStrategyArgs(
            type="RollingUpdate",
            rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
        )
    )
    return apps.Deployment(
        place.prefix,
        metadata=place.meta(place.name),
        spec=apps.DeploymentSpecArgs(
            replicas=place.workload.replicas,
            selector=_selector(place),
            template=pod_template(place.workload, place.labels),
            strategy=strategy,
        ),
        opts=opts,
    )


def _job_spec(place: Placement) -> batch.JobSpecArgs:
    workload = place.workload
    return batch.JobSpecArgs(
        backoff_limit=JOB_BACKOFF_LIMIT,
        active_deadline_seconds=workload.active_deadline_seconds,
        template=pod_template(workload, place.labels),
    )


def job(place: Placement, *, opts: pulumi.ResourceOptions) -> batch.Job:
    """A Job run once per change of its spec; `pulumi up` waits for it to complete.

    No TTL: a Job deleted by the TTL controller would show as drift and run again.
    """
    return batch.Job(
        place.prefix, metadata=place.meta(place.name), spec=_job_spec(place), opts=opts
    )


def cron_job(place: Placement, *, opts: pulumi.ResourceOptions) -> batch.CronJob:
    """A CronJob on the workload's UTC schedule; runs never overlap, missed runs are skipped."""
    return batch.CronJob(
        place.prefix,
        metadata=place.meta(place.name),
        spec=batch.CronJobSpecArgs(
            schedule=place.workload.schedule or "",
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=300,
            successful_jobs_history_limit=JOB_HISTORY,
            failed_jobs_history_limit=JOB_HISTORY,
            job_template=batch.JobTemplateSpecArgs(
                metadata=meta.ObjectMetaArgs(labels=place.labels), spec=_job_spec(place)
            ),
        ),
        opts=opts,
    )


def disruption_budget(place: Placement) -> policy.PodDisruptionBudget | None:
    """For replicated servers: at most one pod evicted at a time, never zero allowed."""
    workload = place.workload
    if workload.replicas < 2 or not workload.kind.long_running:
        return None
    return policy.PodDisruptionBudget(
        f"{place.prefix}-pdb",
        metadata=place.meta(place.name),
        spec=policy.PodDisruptionBudgetSpecArgs(max_unavailable=1, selector=_selector(place)),
        opts=place.options(),
    )


def controller(
    place: Placement,
    *,
    kind: WorkloadKind,
    governing_service: str | None,
    storage_class: str | None,
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    """The controller for the workload's kind."""
    match kind:
        case WorkloadKind.STATEFUL:
            assert governing_service is not None
            return stateful_set(
                place, governing_service=governing_service, storage_class=storage_class, opts=opts
            )
        case WorkloadKind.STATELESS:
            return deployment(place, opts=opts)
        case WorkloadKind.JOB:
            return job(place, opts=opts)
        case WorkloadKind.SCHEDULED:
            return cron_job(place, opts=opts)
