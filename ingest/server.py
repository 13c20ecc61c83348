"""Running the app under uvicorn (httptools + uvloop): the server's settings in one place.

uvicorn gives the graceful shutdown the issue asks for: on SIGTERM it closes the listening socket,
lets every in-flight request finish (bounded by the shutdown timeout), then runs the lifespan shutdown,
where the app flushes the producer. A request answered 200 was acknowledged before its answer was sent.
"""

from __future__ import annotations

import logging
import math
import os

import uvicorn
from prometheus_client import REGISTRY

from ingest.app import IngestApp, create_app
from ingest.publisher import KafkaPublisher, librdkafka_logger
from ingest.settings import IngestSettings

#: prometheus_client's own variable: with several workers each writes its metrics to files there.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def configure_logging(settings: IngestSettings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # librdkafka logs every reconnect attempt; the publisher logs each change of the broker's state once.
    if settings.log_level != "debug":
        librdkafka_logger.setLevel(logging.CRITICAL)


def uvicorn_config(settings: IngestSettings, app: IngestApp | str) -> uvicorn.Config:
    """`app` is the app itself (one process) or the import string of a factory (several workers)."""
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        log_config=None,  # logging is configured once, by configure_logging()
        log_level=settings.log_level,
        access_log=settings.access_log,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        limit_concurrency=settings.max_concurrent_requests,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout_seconds),
    )


def app_from_environment() -> IngestApp:
    """The factory each worker process calls: settings were validated by the parent, from the same env."""
    settings = IngestSettings()
    configure_logging(settings)
    return create_app(
        settings,
        KafkaPublisher(settings),
        registry=REGISTRY,
        multiprocess_dir=os.environ.get(MULTIPROCESS_DIR_VARIABLE),
    )
