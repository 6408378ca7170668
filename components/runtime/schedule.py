"""Cron schedules: validated with croniter, and reduced to a fixed period where one exists.

Kubernetes runs a CronJob's schedule as written (UTC here). Docker has no scheduler, so
the Docker runtime runs a scheduled workload as a container that sleeps until the next
run; it supports the schedules that fire at a fixed period (every N minutes or hours,
daily or weekly at a time) and refuses the others with a clear error.
https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from croniter import croniter

SAMPLES = 400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def validate_cron(expression: str) -> str:
    """The expression, if it is a valid five-field cron schedule; ValueError otherwise."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(
            f"{expression!r} is not a five-field cron schedule (minute hour day month weekday)"
        )
    return expression


def fixed_period(expression: str) -> tuple[int, int]:
    """`(period, offset)` in seconds such that runs fall at `offset + k * period` (UTC).

    Raises ValueError when the schedule's runs are not evenly spaced (e.g. weekdays only,
    or monthly), which a sleep loop cannot follow.
    """
    iterator = croniter(validate_cron(expression), EPOCH)
    times = [int(iterator.get_next(float)) for _ in range(SAMPLES)]
    gaps = {later - earlier for earlier, later in itertools.pairwise(times)}
    if len(gaps) != 1:
        raise ValueError(
            f"schedule {expression!r} has no fixed period: Docker (dev) runs scheduled "
            "workloads every N minutes/hours or daily/weekly at a fixed time only"
        )
    period = gaps.pop()
    return period, times[0] % period


def sleep_loop(expression: str) -> str:
    """A POSIX shell script that runs `"$@"` on the schedule, forever (Docker)."""
    period, offset = fixed_period(expression)
    return (
        "\n".join(
            [
                "set -u",
                f"period={period}",
                f"offset={offset}",
                "while :; do",
                '  now="$(date +%s)"',
                '  sleep "$(( ((offset - now % period) % period + period) % period ))"',
                '  "$@" || echo "scheduled run failed with status $?" >&2',
                "  sleep 1",
                "done",
            ]
        )
        + "\n"
    )
