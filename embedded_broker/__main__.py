"""`smsc-analytics broker`: the embedded Kafka-protocol broker in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from embedded_broker.broker import BrokerError, EmbeddedBroker
from embedded_broker.settings import BrokerSettings
from smsc_analytics.config import settings_or_exit


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="smsc-analytics broker",
        description="Run the embedded Kafka-protocol broker (Tansu, in-memory storage) on a loopback port. "
        "For development only: data is lost when it stops. Environment: SMSC_BROKER_HOST, SMSC_BROKER_PORT.",
    )
    parser.add_argument(
        "--port", type=int, help="Kafka port (default 9092, env SMSC_BROKER_PORT; 0 = any free)"
    )
    args = parser.parse_args(argv)
    overrides = {"port": args.port} if args.port is not None else {}
    settings = settings_or_exit(BrokerSettings, **overrides)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    broker = EmbeddedBroker(
        host=settings.host, port=settings.port, startup_timeout_seconds=settings.startup_timeout_seconds
    )
    try:
        broker.start()
    except BrokerError as exc:
        print(f"smsc-analytics broker: {exc}", file=sys.stderr)
        return 1
    print(
        f"embedded broker ready: KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers} (Ctrl-C stops it)",
        flush=True,
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
