"""The worker's topics: created when missing, and the raw topic's partition count checked.

The raw topic, `smsc.events` and the dead-letter topic have the same partition count: partition p of
each holds the records of the same messages, which is what lets a worker own p end to end.
"""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import WorkerSettings


class TopicLayoutError(RuntimeError):
    """A topic exists with another partition count than the worker is configured for."""


async def ensure_topics(settings: WorkerSettings) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id="smsc-streams-admin"
    )
    await admin.start()
    try:
        names = (settings.raw_topic, settings.events_topic, settings.dead_topic)
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, settings.partitions, 1) for name in names if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created them meanwhile
                await admin.create_topics(missing)
        for description in await admin.describe_topics(list(names)):
            count = len(description["partitions"])
            if count != settings.partitions:
                raise TopicLayoutError(
                    f"topic {description['topic']} has {count} partitions, the worker is configured for "
                    f"{settings.partitions} (SMSC_WORKER_PARTITIONS)"
                )
    finally:
        await admin.close()
