"""Fixtures shared by every test package: the real embedded broker and unique topic names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

from embedded_broker import EmbeddedBroker
from tests.faultproxy import ProxiedBroker, running_proxied_broker

# Every property runs at least 500 examples, in CI and locally; no deadline on shared, noisy machines.
settings.register_profile("default", max_examples=500, deadline=None)
settings.load_profile("default")


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One real Tansu broker on a free loopback port for the whole run; to pause one, use `fresh_broker`."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: EmbeddedBroker) -> str:
    return broker.bootstrap_servers


@pytest.fixture
def fresh_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, for tests that pause, stop or otherwise break it."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def proxied_broker() -> Iterator[ProxiedBroker]:
    """A broker of this test's own behind a fault proxy: `.proxy` cuts, stalls, refuses and heals links.

    The broker advertises the proxy's port, so clients pass through the proxy after bootstrap too;
    give clients `.bootstrap_servers` (the proxy). See tests/faultproxy.py for the controls.
    """
    with running_proxied_broker() as proxied:
        yield proxied


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic no other test uses (quix-streams' and bytewax's practice)."""
    return f"test.{request.node.name[:40]}.{uuid.uuid4().hex[:8]}".replace("[", "_").replace("]", "_")
