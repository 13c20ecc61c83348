"""Callbacks over real HTTP into the real broker: what is answered, and exactly what is stored."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingest.metrics import BROKER_ERRORS_TOTAL, REJECTED_TOTAL, REQUEST_DURATION_SECONDS, REQUESTS_TOTAL
from smsc.kinds import CallbackKind
from smsc.raw_record import (
    ACCOUNT_HEADER,
    CONTENT_TYPE_HEADER,
    KIND_HEADER,
    QUERY_STRING_HEADER,
    RECEIVED_AT_NS_HEADER,
    REJECT_REASON_HEADER,
    REMOTE_ADDR_HEADER,
    REQUEST_ID_HEADER,
    VERSION_HEADER,
    RawRecord,
)
from smsc.signature import SignatureAlgorithm
from smsc.wire import BodyFormat
from tests.integration.ingest.conftest import Ingest, ingest_settings, post, read_records, running_ingest
from tests.unit.ingest.callbacks import CHARSETS, FORMATS, KEYS, callback

pytestmark = pytest.mark.integration

SECRET = "s3cr3t"  # the secret of account `acme` in ingest_settings()


@pytest.fixture(scope="module")
def ingest(kafka_bootstrap: str) -> Iterator[Ingest]:
    topic = f"test.ingest.{uuid.uuid4().hex[:8]}"
    with running_ingest(ingest_settings(kafka_bootstrap, topic)) as running:
        yield running


@pytest.fixture
def client(ingest: Ingest) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest.url, timeout=30) as http:
        yield http


def _request_id(response: httpx.Response) -> str:
    return response.headers["x-request-id"]


def test_every_charset_format_and_kind_is_stored_exactly(
    ingest: Ingest, client: httpx.Client, kafka_bootstrap: str
) -> None:
    started_ns = time.time_ns()
    sent = {}
    for kind in CallbackKind:
        for body_format in FORMATS:
            for charset in CHARSETS:
                request = callback(kind, charset=charset, body_format=body_format, secret=SECRET)
                response = post(
                    client, "/smsc/callback/acme", request.body, content_type=request.content_type
                )
                assert response.status_code == 200, (kind, body_format, charset, response.text)
                assert response.text == "OK\n"
                sent[_request_id(response)] = (kind, request)
    assert len(sent) == 27
    records = read_records(kafka_bootstrap, ingest.settings.raw_topic, sent)
    assert records.keys() == sent.keys()
    for request_id, (kind, request) in sent.items():
        record = records[request_id]
        assert record.key == KEYS[kind]
        assert record.value == request.body
        received_ns = int(record.headers[RECEIVED_AT_NS_HEADER])
        assert started_ns <= received_ns <= time.time_ns()
        assert record.headers == {
            VERSION_HEADER: b"1",
            QUERY_STRING_HEADER: b"",
            ACCOUNT_HEADER: b"acme",
            RECEIVED_AT_NS_HEADER: str(received_ns).encode(),
            REQUEST_ID_HEADER: request_id.encode(),
            CONTENT_TYPE_HEADER: request.content_type.encode(),
            REMOTE_ADDR_HEADER: b"127.0.0.1",
            KIND_HEADER: kind.value.encode(),
        }
        assert RawRecord.from_headers(record.value, record.headers.items()).kind is kind


def test_the_bang_rule_parameters_in_the_query_string(
    ingest: Ingest, client: httpx.Client, kafka_bootstrap: str
) -> None:
    request = callback(
        CallbackKind.STATUS, charset="windows-1251", secret=SECRET, query_keys=("id", "phone", "charset")
    )
    assert request.query_string == "id=4711&phone=79991234567&charset=windows-1251"
    response = post(client, "/smsc/callback/acme", request.body, request.query_string, request.content_type)
    assert response.status_code == 200
    record = read_records(kafka_bootstrap, ingest.settings.raw_topic, [_request_id(response)])[
        _request_id(response)
    ]
    assert record.key == b"4711:79991234567"
    assert record.value == request.body
    assert record.headers[QUERY_STRING_HEADER] == request.query_string.encode()


def test_plain_path_is_the_default_account_and_extra_parameters_are_kept(
    ingest: Ingest, client: httpx.Client, kafka_bootstrap: str
) -> None:
    request = callback(
        CallbackKind.INCOMING,
        charset="koi8-r",
        body_format=BodyFormat.JSON,
        extra={"account": "shop-7", "x_campaign": "весна"},
    )
    response = post(client, "/smsc/callback", request.body, content_type=None)
    assert response.status_code == 200
    record = read_records(kafka_bootstrap, ingest.settings.raw_topic, [_request_id(response)])[
        _request_id(response)
    ]
    assert record.value == request.body
    assert "весна".encode("koi8-r") in record.value
    assert record.key == KEYS[CallbackKind.INCOMING]
    assert record.headers[ACCOUNT_HEADER] == b"default"
    assert CONTENT_TYPE_HEADER not in record.headers


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
@pytest.mark.parametrize("charset", ["windows-1251", "utf-8"])
def test_each_signature_algorithm_good_bad_and_missing(
    ingest: Ingest, client: httpx.Client, kafka_bootstrap: str, algorithm: SignatureAlgorithm, charset: str
) -> None:
    good = callback(CallbackKind.STATUS, charset=charset, secret=SECRET, algorithm=algorithm)
    bad = callback(CallbackKind.STATUS, charset=charset, secret="not-the-secret", algorithm=algorithm)
    missing = callback(CallbackKind.STATUS, charset=charset)
    answers = {
        name: post(client, "/smsc/callback/acme", request.body, content_type=request.content_type)
        for name, request in (("good", good), ("bad", bad), ("missing", missing))
    }
    assert {name: response.status_code for name, response in answers.items()} == {
        "good": 200,
        "bad": 403,
        "missing": 403,
    }
    stored = read_records(kafka_bootstrap, ingest.settings.raw_topic, [_request_id(answers["good"])])
    assert stored[_request_id(answers["good"])].value == good.body
    rejected_ids = [_request_id(answers["bad"]), _request_id(answers["missing"])]
    rejected = read_records(kafka_bootstrap, ingest.settings.rejected_topic, rejected_ids)
    assert rejected[rejected_ids[0]].value == bad.body
    assert rejected[rejected_ids[0]].headers[REJECT_REASON_HEADER] == b"bad_signature"
    assert rejected[rejected_ids[1]].value == missing.body
    assert rejected[rejected_ids[1]].headers[REJECT_REASON_HEADER] == b"missing_signature"
    assert rejected[rejected_ids[1]].key is None


def test_crc32_in_hex_is_accepted(ingest: Ingest, client: httpx.Client) -> None:
    request = callback(CallbackKind.CALL_CONFIRMATION, secret=SECRET, algorithm=SignatureAlgorithm.CRC32)
    decimal = request.body.decode().split("crc32=")[1]
    body = request.body.replace(f"crc32={decimal}".encode(), f"crc32={int(decimal):08x}".encode())
    assert post(client, "/smsc/callback/acme", body).status_code == 200


def test_body_limit(ingest: Ingest, client: httpx.Client, kafka_bootstrap: str) -> None:
    limit = ingest.settings.max_body_bytes
    head = b"id=1&phone=79990000000&status=1&pad="
    at_limit = head + b"x" * (limit - len(head))
    accepted = post(client, "/smsc/callback/beta", at_limit)
    over = post(client, "/smsc/callback/beta", at_limit + b"x")
    assert (accepted.status_code, over.status_code) == (200, 413)
    record = read_records(kafka_bootstrap, ingest.settings.raw_topic, [_request_id(accepted)])
    assert record[_request_id(accepted)].value == at_limit
    rejected = read_records(kafka_bootstrap, ingest.settings.rejected_topic, [_request_id(over)])
    # Refused on its declared length, before reading it: the copy keeps the request, not the body.
    assert rejected[_request_id(over)].value == b""
    assert rejected[_request_id(over)].headers[REJECT_REASON_HEADER] == b"too_large"


def test_a_chunked_body_over_the_limit_is_refused_too(ingest: Ingest, client: httpx.Client) -> None:
    limit = ingest.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096

    assert client.post("/smsc/callback/beta", content=chunks()).status_code == 413


def test_undecodable_body_by_account(ingest: Ingest, client: httpx.Client, kafka_bootstrap: str) -> None:
    body = b"id=1&phone=7999&mes=\x98"  # 0x98 is no character of windows-1251
    unsigned = post(client, "/smsc/callback/beta", body)
    signed = post(client, "/smsc/callback/acme", body)
    assert (unsigned.status_code, signed.status_code) == (200, 400)
    stored = read_records(kafka_bootstrap, ingest.settings.raw_topic, [_request_id(unsigned)])
    record = stored[_request_id(unsigned)]
    assert (record.key, record.value) == (None, body)
    assert KIND_HEADER not in record.headers
    rejected = read_records(kafka_bootstrap, ingest.settings.rejected_topic, [_request_id(signed)])
    assert rejected[_request_id(signed)].headers[REJECT_REASON_HEADER] == b"undecodable"


def test_an_unknown_account_is_404_and_kept(
    ingest: Ingest, client: httpx.Client, kafka_bootstrap: str
) -> None:
    request = callback(CallbackKind.STATUS)
    response = post(client, "/smsc/callback/stranger", request.body)
    assert response.status_code == 404
    rejected = read_records(kafka_bootstrap, ingest.settings.rejected_topic, [_request_id(response)])
    record = rejected[_request_id(response)]
    assert record.value == request.body
    assert record.headers[ACCOUNT_HEADER] == b"stranger"
    assert record.headers[REJECT_REASON_HEADER] == b"unknown_account"
    assert ingest.registry.get_sample_value(
        REJECTED_TOTAL, {"account": "unknown", "reason": "unknown_account"}
    )
    assert (
        ingest.registry.get_sample_value(REJECTED_TOTAL, {"account": "stranger", "reason": "unknown_account"})
        is None
    )


def test_other_methods_and_paths(client: httpx.Client) -> None:
    response = client.get("/smsc/callback")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert client.put("/smsc/callback/acme", content=b"x").status_code == 405
    assert client.post("/healthz").status_code == 405
    assert client.get("/nothing-here").status_code == 404


def test_health_and_readiness(client: httpx.Client) -> None:
    assert (client.get("/healthz").status_code, client.get("/healthz").text) == (200, "ok\n")
    assert client.get("/readyz").status_code == 200


def test_metrics_count_requests_and_parse_as_prometheus_text(ingest: Ingest, client: httpx.Client) -> None:
    labels = {"account": "beta", "kind": "call_confirmation", "format": "xml", "code": "200"}
    before = ingest.registry.get_sample_value(REQUESTS_TOTAL, labels)
    assert before is not None  # initialised at start, so rate() sees the first request
    request = callback(CallbackKind.CALL_CONFIRMATION, body_format=BodyFormat.XML)
    for _ in range(3):
        assert (
            post(client, "/smsc/callback/beta", request.body, content_type=request.content_type).status_code
            == 200
        )
    assert ingest.registry.get_sample_value(REQUESTS_TOTAL, labels) == before + 3
    assert ingest.registry.get_sample_value(BROKER_ERRORS_TOTAL) == 0

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert families["smsc_ingest_requests"].type == "counter"
    assert families["smsc_ingest_rejected"].type == "counter"
    assert families["smsc_ingest_broker_errors"].type == "counter"
    assert families[REQUEST_DURATION_SECONDS].type == "histogram"
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for sample in families["smsc_ingest_requests"].samples
    }
    assert samples[(REQUESTS_TOTAL, tuple(sorted(labels.items())))] == before + 3
    label_names = {
        name for family in families.values() for sample in family.samples for name in sample.labels
    }
    assert label_names <= {"account", "kind", "format", "code", "reason", "le"}
