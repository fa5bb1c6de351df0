"""How a service reaches Kafka: plain on the embedded broker, TLS with SCRAM on a Strimzi cluster's listener."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from servicekit.events.kafka import connection_options, make_consumer, make_producer
from servicekit.settings import ServiceSettings


def test_a_plain_listener_gets_no_tls_and_no_credentials() -> None:
    options = connection_options(ServiceSettings(kafka_bootstrap="kafka:9092"))

    assert options == {"bootstrap_servers": "kafka:9092", "security_protocol": "PLAINTEXT"}


async def test_an_authenticated_listener_gets_the_cluster_ca_and_the_service_user() -> None:
    # Any PEM bundle stands in for the cluster CA (Strimzi's `<cluster>-cluster-ca-cert` Secret): the system's.
    bundle = Path(ssl.get_default_verify_paths().cafile or "")
    settings = ServiceSettings(kafka_bootstrap="odr-kafka-bootstrap.kafka.svc:9093", kafka_security_protocol="SASL_SSL",
                               kafka_sasl_mechanism="SCRAM-SHA-512", kafka_username="complaints",
                               kafka_password="from-the-kafkauser-secret", kafka_ca_file=bundle)

    producer = make_producer(settings)
    consumer = make_consumer(settings, "complaints.on-mediation", ["mediation.case"])

    for client in (producer.client, consumer._client):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "complaints"
        assert client._sasl_plain_password == "from-the-kafkauser-secret"
        assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED
    await producer.stop()
    await consumer.stop()


def test_sasl_without_a_user_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="ODR_KAFKA_USERNAME and ODR_KAFKA_PASSWORD must be set"):
        ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_username="complaints")
