"""`smsc-analytics ingest`: the HTTP endpoint in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

import uvicorn
from uvicorn.supervisors import Multiprocess

from ingest.app import create_app
from ingest.publisher import KafkaPublisher
from ingest.server import MULTIPROCESS_DIR_VARIABLE, configure_logging, uvicorn_config
from ingest.settings import IngestSettings
from smsc_analytics.config import settings_or_exit

logger = logging.getLogger(__name__)

#: uvicorn's own exit status when the app's startup (here: creating the producer) failed.
STARTUP_FAILURE = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="smsc-analytics ingest",
        description="Run the HTTP endpoint that stores every SMSC callback in Kafka before answering 200. "
        "Configuration: SMSC_INGEST_*, KAFKA_BOOTSTRAP_SERVERS, SMSC_ACCOUNT_SECRETS(_FILE): docs/ingest.md.",
    )
    parser.add_argument("--host", help="address to listen on (env SMSC_INGEST_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (env SMSC_INGEST_PORT, default 8080)")
    parser.add_argument("--workers", type=int, help="server processes (env SMSC_INGEST_WORKERS, default 1)")
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items() if value is not None}
    settings = settings_or_exit(IngestSettings, **overrides)
    configure_logging(settings)
    logger.info(
        "ingest starting bootstrap=%s accounts=%s raw_topic=%s",
        settings.kafka_bootstrap_servers,
        settings.accounts(),
        settings.raw_topic,
    )
    if settings.workers == 1:
        server = uvicorn.Server(uvicorn_config(settings, create_app(settings, KafkaPublisher(settings))))
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    return _run_workers(settings)


def _run_workers(settings: IngestSettings) -> int:
    """Several processes on one port: each builds its own app from the same environment."""
    # The workers read host and port from the parent's socket, everything else from the environment,
    # which the command-line options do not change: only --host/--port/--workers exist for that reason.
    own_dir = None
    if not os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        own_dir = tempfile.mkdtemp(prefix="smsc-ingest-metrics-")
        os.environ[MULTIPROCESS_DIR_VARIABLE] = own_dir
    try:
        config = uvicorn_config(settings, "ingest.server:app_from_environment")
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
