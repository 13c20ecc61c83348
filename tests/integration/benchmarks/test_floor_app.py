"""The benchmark's floor (bare + ingest's producer) really stores what it answers 200 for, else its ratio
means nothing."""

from __future__ import annotations

import pytest

from tests.integration.benchmarks.harness import call_request, post_to, status_callbacks, stored

pytestmark = pytest.mark.integration


def test_the_floor_app_answers_200_after_storing_the_body(kafka_bootstrap: str, topic_name: str) -> None:
    requests = [status.request for status in status_callbacks()] + [call_request()]
    assert post_to("floor", kafka_bootstrap, topic_name, requests) == [200] * len(requests)
    records = stored(kafka_bootstrap, topic_name, len(requests))
    assert sorted(records.elements(), key=lambda record: record[1]) == sorted(
        ((request.body[-16:], request.body) for request in requests), key=lambda record: record[1]
    )
