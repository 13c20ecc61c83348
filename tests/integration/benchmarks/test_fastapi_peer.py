"""The FastAPI peer really stores what it answers 200 for, under the key its handler gives (`id:phone` from
a form, none otherwise): a peer that skipped or garbled the record would make ingest's ratio meaningless."""

from __future__ import annotations

from collections import Counter

import pytest

from smsc.wire import BodyFormat
from tests.integration.benchmarks.harness import call_request, post_to, status_callbacks, stored

pytestmark = pytest.mark.integration


def test_the_peer_answers_200_after_storing_each_body_under_its_key(
    kafka_bootstrap: str, topic_name: str
) -> None:
    statuses = status_callbacks()
    call = call_request()
    requests = [status.request for status in statuses] + [call]
    assert post_to("fastapi", kafka_bootstrap, topic_name, requests) == [200] * len(requests)
    expected: Counter[tuple[bytes | None, bytes]] = Counter(
        (
            f"{status.message_id}:{status.phone}".encode() if status.body_format is BodyFormat.FORM else None,
            status.request.body,
        )
        for status in statuses
    )
    expected[(None, call.body)] += 1
    assert stored(kafka_bootstrap, topic_name, len(requests)) == expected
