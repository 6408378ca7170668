"""Transport security: every endpoint that carries credentials speaks TLS.

Three readings of the same requirement, each switched on by `requireTls` (test, prod):
- a MinIO server (any container of any pod spec, or a Docker container, running
  `minio server`) has a certificate and key in its certs directory (MinIO serves TLS
  when `<certs-dir>/public.crt` and `private.key` exist; the directory is `--certs-dir`
  / `-S`, default `${HOME}/.minio/certs`: https://min.io/docs/minio/linux/operations/network-encryption.html);
- the providers that log in to a server do so over verified TLS: `pulumi:providers:minio`
  `minioSsl` true and `minioInsecure` not true; `pulumi:providers:postgresql` `sslmode`
  require, verify-ca or verify-full (libpq's modes: disable/allow/prefer may send the
  password in clear); `pulumi:providers:kafka` `tlsEnabled` not false (pulumi-kafka's
  default is true) and `skipTlsVerify` not true;
- no config file or env value sends credentials to an `http://` endpoint: a URL with
  userinfo (`http://user:pass@host`, even when the password is a reference), or an
  `http://` endpoint key beside credential keys of the same prefix (`s3.endpoint` with
  `s3.aws-secret-key`).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from rules.declare import mandatory_policy

from . import wire

SCHEMA: dict[str, dict[str, Any]] = {
    "requireTls": {
        "type": "boolean",
        "default": True,
        "description": "Judge TLS at all (false on a loopback-only dev stack).",
    },
}
PROVIDER_SCHEMA: dict[str, dict[str, Any]] = SCHEMA | {
    "requireVerifiedTls": {
        "type": "boolean",
        "default": True,
        "description": "Also refuse TLS that skips certificate verification (minioInsecure).",
    },
}
_CREDENTIAL_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|credential|access[_.\-]?key|(^|[_.\-])user(name)?$)"
)
_ENDPOINT_KEY = re.compile(r"(?i)(endpoint|url|uri|address|host)$")
_HTTP_USERINFO = re.compile(r"(?i)\bhttp://[^/\s@]+:[^/\s@]+@")
_SAFE_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})


def _required(args: ResourceValidationArgs) -> bool:
    return bool(wire.setting(args, SCHEMA, "requireTls"))


# --- MinIO servers -------------------------------------------------------------------


def _minio_server(words: list[str], image: str | None) -> bool:
    """`minio server ...` as command+args, or `server ...` on an image named minio."""
    if "server" not in words:
        return False
    runs_minio = any(posixpath.basename(w) == "minio" for w in words)
    repository = (image or "").split("@", 1)[0].rsplit(":", 1)[0]
    return runs_minio or repository.endswith("minio")


def _certs_dir(words: list[str], home: str) -> str:
    """The certs directory MinIO reads: `--certs-dir X`, `--certs-dir=X`, `-S X`."""
    for index, word in enumerate(words):
        if word.startswith("--certs-dir="):
            return word.split("=", 1)[1].rstrip("/")
        if word in ("--certs-dir", "-S") and index + 1 < len(words):
            return words[index + 1].rstrip("/")
    return posixpath.join(home, ".minio", "certs")


def _secret_files(volume: Any) -> list[str] | None:
    """File names a Secret or projected-Secret volume delivers; None when all its keys."""
    secret = wire.get(volume, "secret")
    sources = [
        wire.get(s, "secret") for s in wire.elements(wire.get(volume, "projected", "sources"))
    ]
    sources = [s for s in sources if s is not None]
    if secret is not None:
        sources.append(secret)
    files: list[str] = []
    for source in sources:
        listed = wire.elements(wire.get(source, "items"))
        if not listed:
            return None
        files += [wire.text(wire.get(i, "path")) or "" for i in listed]
    return files


def _pod_cert_files(spec: Any, container: Any, directory: str) -> set[str] | None:
    """Files that Secret volumes put into `directory`; None when a whole Secret (every
    key, names not visible) is mounted there."""
    volumes = {wire.text(wire.get(v, "name")): v for v in wire.elements(wire.get(spec, "volumes"))}
    found: set[str] = set()
    for mount in wire.elements(wire.get(container, "volumeMounts")):
        path = (wire.text(wire.get(mount, "mountPath")) or "").rstrip("/")
        volume = volumes.get(wire.text(wire.get(mount, "name")))
        files = _secret_files(volume) if volume is not None else []
        if files == [] or not path:
            continue  # not a Secret
        if wire.get(mount, "subPath"):
            if posixpath.dirname(path) == directory:
                found.add(posixpath.basename(path))
            continue
        if not (directory == path or directory.startswith(path + "/")):
            continue
        if files is None:
            return None
        prefix = posixpath.relpath(directory, path)
        found |= {name if prefix == "." else posixpath.relpath(name, prefix) for name in files}
    return found


def _copied_cert_files(spec: Any, container: Any, words: list[str], directory: str) -> set[str]:
    """Certificate files a start script copies into `directory` from a Secret mount.

    Some images need a writable certs directory (MinIO creates `CAs/`), so the pod
    mounts the Secret elsewhere and its command copies `public.crt` and `private.key`
    into the certs directory. Accepted when a Secret mounted in the container delivers
    both files and a command word both names the certs directory and copies them.
    """
    script = [w for w in words if directory in w and "public.crt" in w and "private.key" in w]
    if not script:
        return set()
    delivered: set[str] = set()
    for mount in wire.elements(wire.get(container, "volumeMounts")):
        path = (wire.text(wire.get(mount, "mountPath")) or "").rstrip("/")
        if path and any(path in w for w in script):
            delivered |= _pod_cert_files(spec, container, path) or set()
    return delivered


def _docker_cert_files(props: Any, directory: str) -> set[str] | None:
    found: set[str] = set()
    for upload in wire.elements(wire.get(props, "uploads")):
        path = wire.text(wire.get(upload, "file")) or ""
        if posixpath.dirname(path) == directory:
            found.add(posixpath.basename(path))
    for mount in wire.elements(wire.get(props, "mounts")) + wire.elements(
        wire.get(props, "volumes")
    ):
        target = wire.text(wire.get(mount, "target")) or wire.text(wire.get(mount, "containerPath"))
        if target and target.rstrip("/") == directory:
            return None
    return found


def _env_value(pairs: list[tuple[str, Any]], name: str) -> str | None:
    values = [wire.text(v) for n, v in pairs if n == name]
    return values[-1] if values else None


def _report_missing(where: str, directory: str, files: set[str] | None, report: Any) -> None:
    if files is None or {"public.crt", "private.key"} <= files:
        return
    report(
        f"{where} runs `minio server` without public.crt and private.key in its certs "
        f"directory {directory}: S3 and the admin API (root credentials) travel in clear.",
        None,
    )


def validate_minio_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A MinIO server has a certificate and key where it looks for them."""
    if not _required(args):
        return
    spec = wire.pod_spec(args.resource_type, args.props)
    for _, container in wire.container_entries(spec) if spec is not None else []:
        words = wire.command_line(container)
        if not _minio_server(words, wire.text(wire.get(container, "image"))):
            continue
        env = [
            (wire.text(wire.get(e, "name")) or "", wire.get(e, "value"))
            for e in wire.elements(wire.get(container, "env"))
        ]
        directory = _certs_dir(words, _env_value(env, "HOME") or "/root")
        files = _pod_cert_files(spec, container, directory)
        if files is not None and not {"public.crt", "private.key"} <= files:
            files = _copied_cert_files(spec, container, words, directory)
        _report_missing(f"container '{wire.container_name(container)}'", directory, files, report)
    if args.resource_type == wire.DOCKER_CONTAINER:
        words = wire.command_line(args.props)
        if _minio_server(words, wire.text(wire.get(args.props, "image"))):
            home = _env_value(wire.docker_env(args.props), "HOME") or "/root"
            directory = _certs_dir(words, home)
            files = _docker_cert_files(args.props, directory)
            _report_missing(f"container '{args.name}'", directory, files, report)


# --- providers -----------------------------------------------------------------------


def validate_provider_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """MinIO and PostgreSQL providers connect over verified TLS."""
    if not _required(args):
        return
    props = args.props
    if args.resource_type == "pulumi:providers:minio":
        ssl = wire.get(props, "minioSsl")
        if not wire.is_unknown(ssl) and wire.boolean(ssl) is not True:
            report(
                f"MinIO provider '{args.name}' connects without TLS (minioSsl {ssl!r}; the "
                "provider's default is false): admin credentials travel in clear.",
                None,
            )
        verified = wire.setting(args, PROVIDER_SCHEMA, "requireVerifiedTls")
        if verified and wire.boolean(wire.get(props, "minioInsecure")) is True:
            report(
                f"MinIO provider '{args.name}' sets minioInsecure: it does not verify the "
                "server certificate.",
                None,
            )
    elif args.resource_type == "pulumi:providers:kafka":
        _kafka_provider_tls(args, report)
    elif args.resource_type == "pulumi:providers:postgresql":
        mode = wire.get(props, "sslmode")
        if mode is None:
            mode = wire.get(props, "sslMode")
        if wire.is_unknown(mode):
            return
        if (wire.text(mode) or "").lower() not in _SAFE_SSLMODES:
            report(
                f"PostgreSQL provider '{args.name}' uses sslmode {mode or 'unset'!r}; only "
                "require, verify-ca or verify-full refuse a plain-text connection.",
                None,
            )


def _kafka_provider_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """pulumi-kafka: `tlsEnabled` defaults to true; only an explicit false turns TLS off;
    `skipTlsVerify` true skips the broker certificate check."""
    tls = wire.get(args.props, "tlsEnabled")
    if not wire.is_unknown(tls) and wire.boolean(tls) is False:
        report(
            f"Kafka provider '{args.name}' sets tlsEnabled false: the admin user's SASL "
            "credentials and the topic configs travel in clear.",
            None,
        )
    verified = wire.setting(args, PROVIDER_SCHEMA, "requireVerifiedTls")
    if verified and wire.boolean(wire.get(args.props, "skipTlsVerify")) is True:
        report(
            f"Kafka provider '{args.name}' sets skipTlsVerify: it does not verify the "
            "brokers' certificate.",
            None,
        )


# --- credentials to http:// endpoints ---------------------------------------------------


def _parent(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def http_credential_lines(content: str) -> list[str]:
    """Lines/keys of a properties-like file that send credentials over plain http."""
    found: list[str] = []
    settings = wire.parse_properties(content)
    credential_parents = {
        _parent(key) for key, value in settings.items() if value and _CREDENTIAL_KEY.search(key)
    }
    for key, value in settings.items():
        if _HTTP_USERINFO.search(value):
            found.append(f"{key} (an http:// URL with user and password)")
        elif (
            value.lower().startswith("http://")
            and _ENDPOINT_KEY.search(key)
            and _parent(key) in credential_parents
        ):
            found.append(f"{key}={value} (credentials of '{_parent(key) or key}' sent over http)")
    return found


def _visible_files(args: ResourceValidationArgs) -> list[tuple[str, str]]:
    """Config files of ConfigMaps and Docker uploads, and of Secrets where their content
    is visible (a real preview hands the pack secret plaintext; offline it is hidden)."""
    return wire.visible_files(args.resource_type, args.props)


def validate_credentials_over_http(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No config file or env value sends credentials to an http:// endpoint."""
    if not _required(args):
        return
    for file_name, content in _visible_files(args):
        for finding in http_credential_lines(content):
            report(f"{file_name}: {finding}; use https.", None)
    spec = wire.pod_spec(args.resource_type, args.props)
    pairs = [(c, n, v) for c, n, v in wire.env_literals(spec)] if spec is not None else []
    if args.resource_type == wire.DOCKER_CONTAINER:
        pairs += [(args.name, n, v) for n, v in wire.docker_env(args.props) if n]
    for container, name, value in pairs:
        if isinstance(value, str) and _HTTP_USERINFO.search(value):
            report(
                f"env {name} of container '{container}' sends a user and password to an "
                "http:// URL; use https.",
                None,
            )


def _policy(
    name: str,
    description: str,
    validate: Any,
    severity: Severity,
    remediation: str,
    schema: dict[str, dict[str, Any]] = SCHEMA,
) -> ResourceValidationPolicy:
    return mandatory_policy(
        name,
        description,
        validate,
        severity=severity,
        remediation=remediation,
        tags=("network", "tls", "secrets"),
        schema=schema,
    )


POLICIES = [
    _policy(
        "minio-server-tls",
        "Where requireTls is set (test, prod), every container that runs `minio server` "
        "(any container list of any pod spec, or a Docker container) has public.crt and "
        "private.key from a Secret in its certs directory (--certs-dir/-S, default "
        "${HOME}/.minio/certs), so S3 and admin credentials never cross the network in clear.",
        validate_minio_tls,
        Severity.CRITICAL,
        "Mount the server certificate and key as a Secret volume at /certs (public.crt, "
        "private.key) and start MinIO with --certs-dir /certs.",
    ),
    _policy(
        "provider-connections-use-tls",
        "Where requireTls is set (test, prod), the MinIO provider sets minioSsl true (and, "
        "where requireVerifiedTls is set, not minioInsecure), the PostgreSQL provider "
        "uses sslmode require, verify-ca or verify-full, and the Kafka provider leaves "
        "tlsEnabled on (and, where requireVerifiedTls is set, not skipTlsVerify): the "
        "providers log in with admin credentials.",
        validate_provider_tls,
        Severity.CRITICAL,
        "Serve TLS on the admin endpoint and set minioSsl: true (with the CA trusted) / "
        "sslmode: verify-full (or require) on the provider.",
        PROVIDER_SCHEMA,
    ),
    _policy(
        "credentials-not-sent-over-http",
        "Where requireTls is set (test, prod), no config file (ConfigMap data/binaryData, "
        "Secret stringData/data where visible, Docker upload) or env value sends "
        "credentials to an http:// endpoint: no "
        "http://user:password@ URL, and no http:// endpoint key next to credential keys of "
        "the same prefix (e.g. s3.endpoint with s3.aws-secret-key).",
        validate_credentials_over_http,
        Severity.HIGH,
        "Point the client at the https:// endpoint of the server (and trust its CA).",
    ),
]
"""The transport security policies."""
