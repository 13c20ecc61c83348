"""The naive anchor: a Faust agent that only counts the records of a topic (JSON values).

Run by benchmarks/streams_throughput.py as a subprocess; prints `first_s last_s count` when done.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import faust

for name in ("faust", "aiokafka", "mode"):
    logging.getLogger(name).setLevel(logging.WARNING)

TOPIC, EXPECTED, BOOTSTRAP, PORT = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
app = faust.App(
    f"naive-{os.getpid()}",
    broker=f"kafka://{BOOTSTRAP}",
    broker_session_timeout=10,
    broker_heartbeat_interval=1,
    web_port=PORT,
    web_bind="127.0.0.1",
    store="memory://",
    datadir=f"/tmp/naive-agent-{os.getpid()}",
)
topic = app.topic(TOPIC, value_serializer="json")
state = {"count": 0, "first": 0.0}


async def count(stream: Any) -> None:
    async for _value in stream:
        if state["count"] == 0:
            state["first"] = time.monotonic()
        state["count"] += 1
        if state["count"] == EXPECTED:
            print(f"{state['first']} {time.monotonic()} {state['count']}", flush=True)
            os._exit(0)


app.agent(topic)(count)

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()
