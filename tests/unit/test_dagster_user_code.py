"""User code's credential files are what the client libraries themselves read.

The AWS shared credentials file goes through boto3's own credential chain, and the Kafka
client properties through confluent-kafka (librdkafka refuses unknown or malformed keys).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import boto3
import javaproperties
import pulumi
import pytest
from confluent_kafka import Producer

from components.contracts import ObjectStoreAccess, Peer, StreamAccess
from components.dagster.user_code import (
    UserCodeAccess,
    aws_credentials,
    kafka_client_properties,
    user_code_secret_files,
)
from components.runtime.workload import Endpoint, WorkloadIdentity
from ops.render import render_program


def _stream(protocol: str, mechanism: str | None) -> StreamAccess:
    identity = WorkloadIdentity(service="kafka", component="broker", version="4")
    return StreamAccess(
        peer=Peer.of(identity, 9092),
        bootstrap_servers=("127.0.0.1:1", "127.0.0.1:2"),
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        user="dagster",
        password=pulumi.Output.secret("unused"),
        ca_certificate=None,
        ready=(),
    )


def test_boto3_reads_the_shared_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "aws-credentials"
    path.write_text(aws_credentials("dp-dev-dagster", "s3cr3t=with%chars"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    assert (credentials.access_key, credentials.secret_key) == (
        "dp-dev-dagster",
        "s3cr3t=with%chars",
    )


def test_librdkafka_accepts_the_scram_client_properties() -> None:
    text = kafka_client_properties(
        _stream("SASL_PLAINTEXT", "SCRAM-SHA-512"), "p@ss:word=1", ca_file=None
    )
    properties = javaproperties.loads(text)
    assert properties == {
        "bootstrap.servers": "127.0.0.1:1,127.0.0.1:2",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "dagster",
        "sasl.password": "p@ss:word=1",
    }
    Producer(properties)  # raises KafkaException on any key or value librdkafka refuses


def test_without_sasl_no_login_is_written() -> None:
    properties = javaproperties.loads(
        kafka_client_properties(_stream("SSL", None), None, ca_file="/x/ca.pem")
    )
    assert "sasl.username" not in properties and "sasl.password" not in properties
    assert properties["ssl.ca.location"] == "/x/ca.pem"


def test_staged_files_name_the_directory_their_reader_finds_them_in() -> None:
    """Docker runs read the files at /run/dagster, staged from the daemon's copy: the
    Kafka properties must point at the CA where the run finds it, not where it is staged."""
    resolved: dict[str, str] = {}

    def program() -> None:
        stream = dataclasses.replace(
            _stream("SASL_SSL", "SCRAM-SHA-512"),
            ca_certificate=pulumi.Output.secret("-----BEGIN CERTIFICATE-----"),
        )
        s3 = ObjectStoreAccess(
            peer=stream.peer,
            endpoint=Endpoint(host="s3", port=9000),
            access_key="dp-dev-dagster",
            secret_key=pulumi.Output.secret("k"),
            buckets={},
            ca_certificate=None,
            ready=(),
        )
        access = UserCodeAccess(s3=s3, region="us-east-1", stream=stream)
        for f in user_code_secret_files(access, secret_dir="/run/dagster", place_in="/staging"):
            f.content.apply(lambda text, path=f.path: resolved.__setitem__(path, text))

    render_program(program, stack="dev")
    assert set(resolved) == {
        "/staging/aws-credentials",
        "/staging/kafka-client.properties",
        "/staging/kafka-ca.pem",
    }
    properties = javaproperties.loads(resolved["/staging/kafka-client.properties"])
    assert properties["ssl.ca.location"] == "/run/dagster/kafka-ca.pem"
