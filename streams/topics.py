"""The worker's topics: created when missing, and the raw topic's partition count checked.

The raw topic, `smsc.events` and the dead-letter topic have the same partition count: partition p of
each holds the records of the same messages, which is what lets a worker own p end to end. The HLR
sharing topic (`streams/hlr_sharing.py`) is read whole by every worker, so its partition count is free;
it is compacted (one answer per number) and drops answers older than the HLR retention.
"""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import WorkerSettings


class TopicLayoutError(RuntimeError):
    """A topic exists with another partition count than the worker is configured for."""


def hlr_topic_configs(settings: WorkerSettings) -> dict[str, str]:
    """Compacted, and what is older than the retention deleted: the workers would expire it anyway (a
    retention of 0 turns the workers' memory off, not the topic's: then compacted only)."""
    if not settings.hlr_retention_seconds:
        return {"cleanup.policy": "compact"}
    return {"cleanup.policy": "compact,delete", "retention.ms": str(settings.hlr_retention_seconds * 1000)}


async def ensure_topics(settings: WorkerSettings) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id="smsc-streams-admin"
    )
    await admin.start()
    try:
        names = (settings.raw_topic, settings.events_topic, settings.dead_topic)
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, settings.partitions, 1) for name in names if name not in existing]
        if settings.hlr_topic not in existing:
            missing.append(
                NewTopic(
                    settings.hlr_topic, settings.partitions, 1, topic_configs=hlr_topic_configs(settings)
                )
            )
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
