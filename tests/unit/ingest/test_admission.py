"""What happens to one callback: the key it is stored under, or the reason it is refused."""

from __future__ import annotations

import pytest

from ingest.admission import STATUS_OF, Reason, Verdict, admit
from smsc.kinds import CallbackKind
from smsc.signature import SignatureAlgorithm
from smsc.wire import BodyFormat, Limits
from tests.unit.ingest.callbacks import CHARSETS, FORMATS, KEYS, callback

LIMITS = Limits()
SECRET = "s3cr3t"


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("body_format", FORMATS)
@pytest.mark.parametrize("kind", list(CallbackKind))
def test_every_signed_callback_is_stored_under_its_message_key(
    kind: CallbackKind, body_format: BodyFormat, charset: str
) -> None:
    request = callback(kind, charset=charset, body_format=body_format, secret=SECRET)
    verdict = admit(
        request.body, request.query_string.encode(), request.content_type, secret=SECRET, limits=LIMITS
    )
    assert verdict == Verdict(None, kind, body_format, KEYS[kind])


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_a_wrong_signature_is_refused(algorithm: SignatureAlgorithm) -> None:
    request = callback(CallbackKind.STATUS, secret="other", algorithm=algorithm)
    verdict = admit(request.body, b"", request.content_type, secret=SECRET, limits=LIMITS)
    assert verdict == Verdict(Reason.BAD_SIGNATURE, CallbackKind.STATUS, BodyFormat.FORM, None)


def test_a_missing_signature_is_refused() -> None:
    request = callback(CallbackKind.INCOMING)
    verdict = admit(request.body, b"", request.content_type, secret=SECRET, limits=LIMITS)
    assert verdict == Verdict(Reason.MISSING_SIGNATURE, CallbackKind.INCOMING, BodyFormat.FORM, None)


def test_an_account_without_a_secret_ignores_signatures() -> None:
    request = callback(CallbackKind.STATUS, secret="whatever")
    verdict = admit(request.body, b"", request.content_type, secret=None, limits=LIMITS)
    assert verdict == Verdict(None, CallbackKind.STATUS, BodyFormat.FORM, KEYS[CallbackKind.STATUS])


@pytest.mark.parametrize("body", [b"{not json", b"<a><b>", b"mes=%FF&charset=utf-8", b"a=1&a=2"])
def test_an_undecodable_body_is_refused_when_a_signature_is_required(body: bytes) -> None:
    assert admit(body, b"", None, secret=SECRET, limits=LIMITS) == Verdict(
        Reason.UNDECODABLE, None, None, None
    )


@pytest.mark.parametrize("body", [b"{not json", b"<a><b>", b"mes=%FF&charset=utf-8", b"mes=\x98"])
def test_an_undecodable_body_is_stored_with_a_null_key_without_a_secret(body: bytes) -> None:
    assert admit(body, b"", None, secret=None, limits=LIMITS) == Verdict(None, None, None, None)


def test_a_callback_without_phone_is_stored_with_a_null_key() -> None:
    verdict = admit(b"id=1&status=1", b"", None, secret=None, limits=LIMITS)
    assert verdict == Verdict(None, CallbackKind.STATUS, BodyFormat.FORM, None)


def test_the_bang_rule_key_comes_from_the_query_string() -> None:
    request = callback(CallbackKind.STATUS, secret=SECRET, query_keys=("id", "phone"))
    assert b"phone" not in request.body
    verdict = admit(
        request.body, request.query_string.encode(), request.content_type, secret=SECRET, limits=LIMITS
    )
    assert verdict.key == KEYS[CallbackKind.STATUS]


def test_codes_follow_the_retry_rules() -> None:
    assert dict(STATUS_OF) == {
        Reason.UNKNOWN_ACCOUNT: 404,
        Reason.TOO_LARGE: 413,
        Reason.UNDECODABLE: 400,
        Reason.MISSING_SIGNATURE: 403,
        Reason.BAD_SIGNATURE: 403,
    }
