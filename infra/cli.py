"""Operator commands: `dataplatform render|check|diff|preflight ...` (also `python -m infra.cli`).

Every command prints a short human summary, or JSON with `--json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from infra.config import ConfigError

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a subcommand handler under `name`."""

    def register(handler: Command) -> Command:
        _COMMANDS[name] = handler
        return handler

    return register


@command("render")
def _render(args: argparse.Namespace) -> int:
    from infra.render import render_stack, write_manifests

    render = render_stack(args.stack, config_file=args.config)
    text = render.to_json()
    if args.out:
        Path(args.out).write_text(text)
    manifests: list[Path] = []
    if args.manifests:
        manifests = write_manifests(render, Path(args.manifests))
    if args.json and not args.out:
        sys.stdout.write(text)
        return 0
    counts = Counter(r["type"] for r in render.resources)
    summary = {
        "stack": render.stack,
        "resources": len(render.resources),
        "by_type": dict(sorted(counts.items())),
        "out": args.out,
        "manifests": len(manifests),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"stack {render.stack}: {len(render.resources)} resources")
    for type_token, count in sorted(counts.items()):
        print(f"  {count:4d}  {type_token}")
    if args.out:
        print(f"render written to {args.out}")
    if args.manifests:
        print(f"{len(manifests)} Kubernetes manifests written to {args.manifests}")
    return 0


@command("diff")
def _diff(args: argparse.Namespace) -> int:
    from infra.diff import diff_renders, format_diff, load_render

    changes = diff_renders(load_render(args.a), load_render(args.b))
    if args.json:
        print(json.dumps(changes, indent=2, sort_keys=True))
    else:
        print(format_diff(changes))
    return 0


@command("preflight")
def _preflight(args: argparse.Namespace) -> int:
    from infra.preflight import check_prerequisites

    problems = check_prerequisites(args.stack)
    if args.json:
        print(json.dumps({"stack": args.stack, "problems": problems}, indent=2))
    elif problems:
        print(f"cannot deploy stack {args.stack!r} yet:")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print(f"stack {args.stack!r}: prerequisites present")
    return 1 if problems else 0


@command("verify-storage")
def _verify_storage(args: argparse.Namespace) -> int:
    import boto3

    from infra.render import load_stack_config
    from infra.verify_storage import S3Client, verify_object_store

    config = load_stack_config(args.stack, args.config)
    admin = config.admin_access.minio
    endpoint = args.endpoint or f"{'https' if admin.tls else 'http'}://{admin.host}:{admin.port}"
    # Credentials come from the standard AWS_* environment / profile, never from arguments.
    client = cast(S3Client, boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1"))
    problems = verify_object_store(client, config.platform, config.object_store)
    if args.json:
        print(
            json.dumps({"stack": args.stack, "endpoint": endpoint, "problems": problems}, indent=2)
        )
    else:
        print(
            f"stack {args.stack}: {len(config.object_store.buckets)} buckets checked at {endpoint}"
        )
        for problem in problems:
            print(f"  - {problem}")
        print("object store matches its config" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


@command("check")
def _check(args: argparse.Namespace) -> int:
    from infra.check import PolicyAnalyzer, PolicyConfigError, check_render

    if args.resources:
        render = json.loads(Path(args.resources).read_text())
    elif args.stack:
        from infra.render import render_stack

        render = json.loads(render_stack(args.stack, config_file=args.config).to_json())
    else:
        print("check needs a STACK or --resources RENDER.json", file=sys.stderr)
        return 2
    try:
        with PolicyAnalyzer() as analyzer:
            result = check_render(render, analyzer=analyzer, policy_config=args.policy_config)
    except PolicyConfigError as error:
        print(str(error), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.format())
    return 0 if result.passed else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every operator command."""
    parser = argparse.ArgumentParser(prog="dataplatform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser(
        "render", help="run a stack offline under mocks and print its resources"
    )
    render.add_argument("stack")
    render.add_argument(
        "--config", type=Path, help="stack config file (default Pulumi.<stack>.yaml)"
    )
    render.add_argument("--out", help="write the render JSON to this file")
    render.add_argument(
        "--manifests", help="write every Kubernetes object as YAML into this directory"
    )
    render.add_argument("--json", action="store_true", help="print JSON instead of a summary")

    diff = sub.add_parser("diff", help="compare two renders (files, or stack names to render)")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--json", action="store_true")

    preflight = sub.add_parser("preflight", help="check what a real deploy of a stack needs")
    preflight.add_argument("stack")
    preflight.add_argument("--json", action="store_true")

    check = sub.add_parser(
        "check",
        help="evaluate the policy pack on an offline render (exit 1 on mandatory violations)",
    )
    check.add_argument("stack", nargs="?", help="render this stack offline, then check it")
    check.add_argument("--resources", type=Path, help="check a saved render JSON instead")
    check.add_argument(
        "--policy-config",
        type=Path,
        help="policy pack config (default policies/config/<stack of the render>.json)",
    )
    check.add_argument(
        "--config", type=Path, help="stack config file (default Pulumi.<stack>.yaml)"
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of a report")

    verify = sub.add_parser(
        "verify-storage", help="check a live S3 endpoint against the stack's buckets"
    )
    verify.add_argument("stack")
    verify.add_argument("--endpoint", help="S3 URL (default: the stack's adminAccess.minio)")
    verify.add_argument(
        "--config", type=Path, help="stack config file (default Pulumi.<stack>.yaml)"
    )
    verify.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one operator command; config errors print plainly and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(str(error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
