"""Every simulated callback decodes back to the parameters it was built from, signed as SMSC signs it."""

from __future__ import annotations

import itertools
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import SimulatedCallback, WireConfig, generate
from simulator.wire import WireChoice, choose
from smsc import (
    SUPPORTED_CHARSETS,
    BodyFormat,
    CallbackKind,
    SignatureAlgorithm,
    SignatureError,
    classify,
    decode_request,
    parse_callback,
    verify_signature,
)

SECRET = "s3cr3t-Key_1"
COMBINATIONS = list(itertools.product(SUPPORTED_CHARSETS, BodyFormat, SignatureAlgorithm))


def assert_round_trip(callback: SimulatedCallback, *, secret: str | None = None) -> None:
    request = decode_request(callback.body, callback.query_string, callback.content_type)
    assert dict(request.params) == dict(callback.params)
    assert request.charset == callback.charset
    assert request.format is callback.body_format
    assert request.query_keys == frozenset(callback.query_keys)
    assert classify(request.params) is callback.kind
    parsed = parse_callback(request.params)
    assert parsed.message_key == callback.key
    if secret is not None:
        verify_signature(callback.kind, request.params, secret, charset=request.charset)


@pytest.mark.parametrize(("charset", "body_format", "algorithm"), COMBINATIONS)
def test_every_charset_and_format_round_trips_and_verifies(
    charset: str, body_format: BodyFormat, algorithm: SignatureAlgorithm
) -> None:
    wire = WireConfig(
        charset=charset, body_format=body_format, query_keys=(), secret=SECRET, algorithm=algorithm
    )
    callbacks = generate(seed=11, count=300, wire=wire)
    assert {callback.kind for callback in callbacks} == set(CallbackKind)
    for callback in callbacks:
        assert callback.charset == charset
        assert callback.body_format is body_format
        assert callback.query_string == ""
        assert algorithm.value in callback.params
        assert_round_trip(callback, secret=SECRET)


@pytest.mark.parametrize(("charset", "body_format"), list(itertools.product(SUPPORTED_CHARSETS, BodyFormat)))
def test_non_ascii_texts_survive_every_charset(charset: str, body_format: BodyFormat) -> None:
    callbacks = generate(seed=3, count=2000, wire=WireConfig(charset=charset, body_format=body_format))
    texts = [callback.params["mes"] for callback in callbacks if callback.kind is CallbackKind.INCOMING]
    assert any(not text.isascii() for text in texts)
    for callback in callbacks:
        assert_round_trip(callback)


def test_handler_url_parameters_arrive_as_parameters() -> None:
    """`?charset=utf-8&fmt=3&sha1=SECRET` in the handler URL: SMSC posts charset, fmt and sha1 back."""
    wire = WireConfig(
        charset="utf-8",
        body_format=BodyFormat.JSON,
        query_keys=(),
        secret=SECRET,
        algorithm=SignatureAlgorithm.SHA1,
    )
    callback = generate(seed=1, count=1, wire=wire)[0]
    assert callback.params["charset"] == "utf-8"
    assert callback.params["fmt"] == "3"
    assert callback.params["sha1"] != SECRET
    assert callback.content_type == "application/json"


def test_the_default_charset_and_form_need_no_parameter() -> None:
    wire = WireConfig(charset="windows-1251", body_format=BodyFormat.FORM, query_keys=())
    for callback in generate(seed=1, count=50, wire=wire):
        assert "charset" not in callback.params
        assert "fmt" not in callback.params
        assert not set(callback.params) & {"md5", "sha1", "crc32"}


def test_the_bang_rule_puts_the_named_parameters_in_the_query_string() -> None:
    wire = WireConfig(charset="koi8-r", body_format=BodyFormat.FORM, query_keys=("id", "phone", "charset"))
    for callback in generate(seed=5, count=200, wire=wire):
        expected = tuple(name for name in ("id", "phone", "charset") if name in callback.params)
        assert callback.query_keys == expected
        request = decode_request(callback.body, callback.query_string, callback.content_type)
        assert request.query_keys == frozenset(expected)
        assert_round_trip(callback)


def test_a_wrong_secret_does_not_verify() -> None:
    callback = generate(seed=2, count=1, wire=WireConfig(secret=SECRET))[0]
    request = decode_request(callback.body, callback.query_string, callback.content_type)
    with pytest.raises(SignatureError):
        verify_signature(callback.kind, request.params, "another", charset=request.charset)


def test_the_drawn_wire_covers_every_charset_and_format_but_never_koi8_r_with_fmt() -> None:
    choices = [choose(WireConfig(), Random(seed)) for seed in range(3000)]
    pairs = {(choice.charset, choice.body_format) for choice in choices}
    assert ("koi8-r", BodyFormat.FORM) in pairs
    assert {charset for charset, _ in pairs} == set(SUPPORTED_CHARSETS)
    assert {body_format for _, body_format in pairs} == set(BodyFormat)
    assert ("koi8-r", BodyFormat.JSON) not in pairs
    assert ("koi8-r", BodyFormat.XML) not in pairs
    assert any(choice.query_keys for choice in choices)
    assert any(choice.explicit_charset for choice in choices)


def test_a_fixed_wire_draws_nothing() -> None:
    rng = Random(1)
    state = rng.getstate()
    config = WireConfig(charset="utf-8", body_format=BodyFormat.XML, query_keys=())
    assert choose(config, rng) == WireChoice("utf-8", BodyFormat.XML, ())
    assert rng.getstate() == state


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    algorithm=st.sampled_from(SignatureAlgorithm),
)
def test_any_seed_gives_well_formed_signed_callbacks(seed: int, algorithm: SignatureAlgorithm) -> None:
    for callback in generate(seed=seed, count=12, wire=WireConfig(secret=SECRET, algorithm=algorithm)):
        assert_round_trip(callback, secret=SECRET)
