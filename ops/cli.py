"""Operator commands: `dataplatform render|check|diff|preflight ...` (also `python -m ops.cli`).

Every command prints a short human summary, or JSON with `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from infra.errors import UserError

if TYPE_CHECKING:
    from ops.verify_storage import S3Client

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
    from ops.render import render_stack, write_manifests

    render = render_stack(args.stack, config_file=args.config)
    text = render.to_json()
    if args.out:
        _write_file(Path(args.out), text, "--out")
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
    from ops.diff import diff_renders, format_diff, load_render

    changes = diff_renders(load_render(args.a), load_render(args.b))
    if args.json:
        print(json.dumps(changes, indent=2, sort_keys=True))
    else:
        print(format_diff(changes))
    return 0


def _write_file(path: Path, text: str, option: str) -> None:
    try:
        path.write_text(text)
    except OSError as error:
        raise UserError(f"{option} {path}: cannot write ({error.strerror})") from None


@command("preflight")
def _preflight(args: argparse.Namespace) -> int:
    from ops.preflight import check_prerequisites

    problems = check_prerequisites(args.stack, config_file=args.config)
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
    from botocore.exceptions import BotoCoreError, ClientError

    from ops.render import load_stack_config
    from ops.verify_storage import verify_object_store

    config = load_stack_config(args.stack, args.config)
    admin = config.admin_access.minio
    scheme = "https" if config.object_store.tls else "http"
    if args.endpoint:
        endpoint: str = args.endpoint
    elif admin is not None:
        endpoint = f"{scheme}://{admin.host}:{admin.port}"
    else:
        raise UserError(
            f"stack {args.stack!r} reaches MinIO through its admin load balancer: pass "
            f"--endpoint https://<address>:9000 (kubectl -n {config.platform.prefix} get svc "
            "minio-server-admin) and --ca-bundle or --no-verify-tls for its generated certificate"
        )
    client = _s3_client(args.stack, endpoint, verify=_tls_verify(args))
    try:
        problems = verify_object_store(client, config.platform, config.object_store)
    except (BotoCoreError, ClientError) as error:
        raise UserError(
            f"cannot check stack {args.stack!r} at {endpoint}: {error} (is the stack deployed "
            "and the endpoint reachable from here? --endpoint, --ca-bundle, --no-verify-tls)"
        ) from None
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


def _tls_verify(args: argparse.Namespace) -> bool | str:
    """boto3's `verify`: a CA bundle file, off when asked explicitly, else the system CAs."""
    if args.ca_bundle is not None:
        if not args.ca_bundle.is_file():
            raise UserError(f"--ca-bundle {args.ca_bundle}: no such file (a PEM CA bundle)")
        return str(args.ca_bundle)
    return not args.no_verify_tls


def _s3_client(stack: str, endpoint: str, *, verify: bool | str = True) -> S3Client:
    """A boto3 S3 client for `endpoint`; credentials only from the AWS_* environment or profile.

    `verify` is boto3's: True (system CAs), a CA bundle path, or False (encrypted, not
    verified: for a generated certificate reached through a load balancer's address).
    """
    import boto3
    import botocore.exceptions

    from ops.verify_storage import missing_credentials

    try:
        session = boto3.Session()
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as error:  # e.g. AWS_PROFILE names no profile
        raise UserError(f"S3 credentials: {error} (check AWS_PROFILE and ~/.aws/)") from None
    if credentials is None:
        raise UserError(missing_credentials(stack, endpoint))
    try:
        client = session.client("s3", endpoint_url=endpoint, region_name="us-east-1", verify=verify)
    except (ValueError, botocore.exceptions.BotoCoreError) as error:
        raise UserError(f"--endpoint {endpoint}: {error} (expected an http(s) URL)") from None
    return cast("S3Client", client)


@command("check")
def _check(args: argparse.Namespace) -> int:
    from ops.check import PolicyAnalyzer, check_render, policy_config_file
    from ops.render_file import load_render_file

    if args.resources and args.stack:
        print("check takes a STACK or --resources RENDER.json, not both", file=sys.stderr)
        return 2
    if not args.resources and not args.stack:
        print("check needs a STACK or --resources RENDER.json", file=sys.stderr)
        return 2
    with PolicyAnalyzer() as analyzer:
        if args.resources:
            render = load_render_file(args.resources)
        else:
            from infra.config import PROJECT
            from ops.render import render_stack

            missing = args.policy_config is None and policy_config_file(args.stack) is None
            if not missing:  # the pack boots on the other core while the program renders
                analyzer.launch(project=PROJECT, stack=args.stack)
            render = json.loads(render_stack(args.stack, config_file=args.config).to_json())
            if missing:
                raise UserError(
                    f"no policy pack config policies/config/{args.stack}.json for stack "
                    f"{args.stack!r}: copy its environment's (e.g. policies/config/prod.json), "
                    "or pass --policy-config FILE"
                )
        result = check_render(render, analyzer=analyzer, policy_config=args.policy_config)
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
    preflight.add_argument(
        "--config", type=Path, help="stack config file (default Pulumi.<stack>.yaml)"
    )
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
    verify.add_argument("--ca-bundle", type=Path, help="PEM CA bundle to verify the endpoint with")
    verify.add_argument(
        "--no-verify-tls",
        action="store_true",
        help="encrypt without verifying the certificate (generated certificates, docs/architecture.md)",
    )
    verify.add_argument(
        "--config", type=Path, help="stack config file (default Pulumi.<stack>.yaml)"
    )
    verify.add_argument("--json", action="store_true")
    return parser


EXIT_USER_ERROR = 2
EXIT_BROKEN_PIPE = EXIT_USER_ERROR
"""The reader of stdout (`| head`) went away: one line on stderr, like any other mistake."""


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one operator command and return its exit status.

    Operator mistakes (`UserError`: bad stack or policy config, a file that is missing or
    not what was expected) print one plain message on stderr and return 2, never a
    traceback; so do failures of the machine (`OSError`, e.g. a full disk). When the
    reader of stdout goes away (`dataplatform check dev --json | head -1`) the command
    says so in one line on stderr and returns 2.
    """
    args = build_parser().parse_args(argv)
    try:
        status = _COMMANDS[args.command](args)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        print(
            f"dataplatform {args.command}: output closed before it was complete (broken pipe)",
            file=sys.stderr,
        )
        return EXIT_BROKEN_PIPE
    except UserError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:  # the machine, not the program: a full disk, an unwritable stdout
        try:
            sys.stdout.flush()
        except OSError:
            _silence_stdout()
        where = f" ({error.filename})" if error.filename else ""
        print(f"dataplatform {args.command}: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 128 + 2
    return status


if __name__ == "__main__":
    sys.exit(main())
