"""What user code (code servers and the runs they launch) is told about the platform.

Plain facts arrive as env; credentials only as secret files, whose paths the env names:

| env | value |
|---|---|
| `OPENLINEAGE_URL`, `OPENLINEAGE_NAMESPACE` | Marquez's OpenLineage API, the stack's namespace (the names the openlineage-python client reads) |
| `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CA_BUNDLE` | MinIO's S3 API and the `dagster` user's key in an AWS shared credentials file (boto3 reads all four); the CA only with TLS |
| `S3_BUCKET_<NAME>` | physical name of each granted bucket (`S3_BUCKET_BRONZE=dp-dev-bronze`) |
| `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_CLIENT_PROPERTIES` | brokers, and a librdkafka properties file with the SCRAM login (and `ssl.ca.location`) |
| `INFLUXDB_URL`, `INFLUXDB_ORG`, `INFLUXDB_BUCKET`, `INFLUXDB_TOKEN_FILE` | quality metrics, when the stack runs a metrics producer |
| `SLACK_WEBHOOK_URL_FILE` | the run-failure alert webhook, when the stack sets one |

Upstream: https://openlineage.io/docs/client/python#configuration,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/configuration.html,
https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Mapping
from dataclasses import dataclass

import javaproperties
import pulumi

from components.contracts import LineageAccess, MetricsAccess, ObjectStoreAccess, StreamAccess
from components.runtime.workload import SecretFile

AWS_CREDENTIALS = "aws-credentials"
S3_CA = "s3-ca.pem"
KAFKA_PROPERTIES = "kafka-client.properties"
KAFKA_CA = "kafka-ca.pem"
INFLUXDB_TOKEN = "influxdb-token"
SLACK_WEBHOOK = "slack-webhook"


@dataclass(frozen=True, kw_only=True)
class UserCodeAccess:
    """The access the producers granted the `dagster` consumer, as user code uses it."""

    s3: ObjectStoreAccess
    region: str
    lineage: LineageAccess | None = None
    stream: StreamAccess | None = None
    metrics: MetricsAccess | None = None
    slack_webhook: pulumi.Output[str] | None = None

    @property
    def ready(self) -> tuple[pulumi.Resource, ...]:
        """What user code must wait for: its S3 user, Kafka principal, lineage and metrics."""
        found: list[pulumi.Resource] = [*self.s3.ready]
        for access in (self.lineage, self.stream, self.metrics):
            if access is not None:
                found += access.ready
        return tuple(found)


def aws_credentials(access_key: str, secret_key: str) -> str:
    """An AWS shared credentials file with one `[default]` profile."""
    parser = configparser.ConfigParser(interpolation=None)
    parser["default"] = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def kafka_client_properties(
    stream: StreamAccess, password: str | None, *, ca_file: str | None
) -> str:
    """librdkafka client properties (confluent-kafka): brokers, protocol, SCRAM login, CA."""
    properties = {
        "bootstrap.servers": stream.bootstrap,
        "security.protocol": stream.security_protocol,
    }
    if stream.sasl_mechanism is not None:
        properties["sasl.mechanism"] = stream.sasl_mechanism
        properties["sasl.username"] = stream.user
        properties["sasl.password"] = password or ""
    if ca_file is not None:
        properties["ssl.ca.location"] = ca_file
    return javaproperties.dumps(properties, timestamp=False, sort_keys=True)


def user_code_env(access: UserCodeAccess, *, secret_dir: str) -> dict[str, str]:
    """The plain env of user code whose secret files are in `secret_dir`."""
    s3 = access.s3
    env = {
        "AWS_ENDPOINT_URL": s3.endpoint.url,
        "AWS_REGION": access.region,
        "AWS_SHARED_CREDENTIALS_FILE": f"{secret_dir}/{AWS_CREDENTIALS}",
        **{f"S3_BUCKET_{name.upper()}": physical for name, physical in s3.buckets.items()},
    }
    if s3.ca_certificate is not None:
        env["AWS_CA_BUNDLE"] = f"{secret_dir}/{S3_CA}"
    if access.lineage is not None:
        env["OPENLINEAGE_URL"] = access.lineage.endpoint.url
        env["OPENLINEAGE_NAMESPACE"] = access.lineage.namespace
    if access.stream is not None:
        env["KAFKA_BOOTSTRAP_SERVERS"] = access.stream.bootstrap
        env["KAFKA_CLIENT_PROPERTIES"] = f"{secret_dir}/{KAFKA_PROPERTIES}"
    if access.metrics is not None:
        metrics = access.metrics
        env["INFLUXDB_URL"] = metrics.endpoint.url
        env["INFLUXDB_ORG"] = metrics.org
        env["INFLUXDB_BUCKET"] = metrics.bucket
        env["INFLUXDB_TOKEN_FILE"] = f"{secret_dir}/{INFLUXDB_TOKEN}"
    if access.slack_webhook is not None:
        env["SLACK_WEBHOOK_URL_FILE"] = f"{secret_dir}/{SLACK_WEBHOOK}"
    return dict(sorted(env.items()))


def user_code_secret_files(
    access: UserCodeAccess, *, secret_dir: str, place_in: str | None = None
) -> tuple[SecretFile, ...]:
    """The credentials `user_code_env` points at, as secret files for readers that find
    them in `secret_dir`; placed in `place_in` (default `secret_dir`) when they are
    staged elsewhere first (Docker runs: the daemon copies them into their volume)."""
    s3 = access.s3
    contents: dict[str, pulumi.Output[str]] = {
        AWS_CREDENTIALS: s3.secret_key.apply(lambda key: aws_credentials(s3.access_key, key)),
    }
    if s3.ca_certificate is not None:
        contents[S3_CA] = s3.ca_certificate
    stream = access.stream
    if stream is not None:
        ca_file = f"{secret_dir}/{KAFKA_CA}" if stream.ca_certificate is not None else None
        password = stream.password if stream.password is not None else pulumi.Output.from_input("")
        contents[KAFKA_PROPERTIES] = password.apply(
            lambda value: kafka_client_properties(stream, value or None, ca_file=ca_file)
        )
        if stream.ca_certificate is not None:
            contents[KAFKA_CA] = stream.ca_certificate
    if access.metrics is not None:
        contents[INFLUXDB_TOKEN] = access.metrics.token
    if access.slack_webhook is not None:
        contents[SLACK_WEBHOOK] = access.slack_webhook
    return _secret_files(contents, place_in or secret_dir)


def _secret_files(
    contents: Mapping[str, pulumi.Output[str]], directory: str
) -> tuple[SecretFile, ...]:
    return tuple(
        SecretFile(path=f"{directory}/{name}", content=pulumi.Output.secret(content))
        for name, content in sorted(contents.items())
    )
