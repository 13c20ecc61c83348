"""`smsc-analytics worker`: one stream worker in the foreground (SIGTERM or Ctrl-C stops it)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import faust
from aiokafka.errors import KafkaError

from smsc_analytics.config import settings_or_exit
from streams.app import create_app
from streams.settings import WorkerSettings
from streams.topics import TopicLayoutError, ensure_topics

logger = logging.getLogger("streams")


def main(argv: Sequence[str] | None = None) -> int:  # noqa: RET503 - the worker exits the process
    parser = argparse.ArgumentParser(
        prog="smsc-analytics worker",
        description="Run a stream worker: raw SMSC callbacks -> events, dead letters and exact aggregates "
        "on /metrics. Start several with distinct --web-port to share the partitions. Configuration: "
        "SMSC_WORKER_*, KAFKA_BOOTSTRAP_SERVERS (README).",
    )
    parser.add_argument(
        "--web-port", type=int, help="port of /metrics (env SMSC_WORKER_WEB_PORT, default 6066)"
    )
    parser.add_argument(
        "--partitions", type=int, help="topic partitions (env SMSC_WORKER_PARTITIONS, default 4)"
    )
    parser.add_argument("--data-dir", help="Faust's data directory (env SMSC_WORKER_DATA_DIR)")
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items() if value is not None}
    settings = settings_or_exit(WorkerSettings, **overrides)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("faust", "aiokafka", "mode", "kafka"):
        # Faust's `-l warn` leaves these at DEBUG: hundreds of thousands of dropped records per run.
        logging.getLogger(noisy).setLevel(logging.WARNING)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(ensure_topics(settings), 60))
    except TopicLayoutError as exc:
        print(f"smsc-analytics worker: {exc}", file=sys.stderr)
        return 2
    except (KafkaError, TimeoutError) as exc:
        print(
            f"smsc-analytics worker: cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}",
            file=sys.stderr,
        )
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = create_app(settings)
    logger.info(
        "worker starting bootstrap=%s partitions=%d metrics=http://%s:%d/metrics",
        settings.kafka_bootstrap_servers,
        settings.partitions,
        settings.web_host,
        settings.web_port,
    )
    worker = faust.Worker(app, loop=loop, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # exits the process when the worker stops


if __name__ == "__main__":
    sys.exit(main())
