"""Signatures: md5 / sha1 / crc32 over the three hashed strings, every accepted reading, every refusal.

The expected digests were computed outside Python (md5sum, sha1sum, the gzip CRC-32 trailer, iconv),
so these tests do not merely restate the implementation.
"""

from __future__ import annotations

import pytest

from smsc.errors import EncodeError, FieldError, SignatureError
from smsc.kinds import CallbackKind
from smsc.signature import SignatureAlgorithm, check_secret, sign, signed_string, verify_signature

SECRET = "secret"
STATUS = {"id": "123", "phone": "79991234567", "status": "1"}
# printf %s "123:79991234567:1:secret" | md5sum / sha1sum / gzip -c | tail -c8 | od -An -tu4
STATUS_MD5 = "11827b99e7712d52b2c474a8e1bdb38c"
STATUS_SHA1 = "a78c4c70420ef6e4cba6553bf0f36c840da85955"
STATUS_CRC32 = 2505880186
# "123:79991234567:1:key50" has a CRC-32 whose hex form starts with a zero: 0x098a0ec6.
KEY50_CRC32 = 160042694

INCOMING = {"phone": "79991234567", "mes": "Привет", "to": "79990000000"}
# printf %s "79991234567:Привет:79990000000:secret" | iconv -t cp1251 | md5sum (and without iconv: UTF-8)
INCOMING_MD5_CP1251 = "680a86fbe70f916e499e99b8299f121a"
INCOMING_MD5_UTF8 = "4321be0a15d88c7709d9ffb1f4334b4a"
INCOMING_MD5_KOI8R = "6a44c905d05ef52548a7c7adb6c888a6"

CALL = {"waitcall": "1", "phone": "79991234567", "ts": "1700000000"}
# printf %s "79991234567:1700000000:secret" | sha1sum
CALL_SHA1 = "712c92cba1aa5f495dec8b78f19eda8336b8dbf2"


def verify(
    kind: CallbackKind, params: dict[str, str], secret: str = SECRET, charset: str = "windows-1251"
) -> SignatureAlgorithm:
    return verify_signature(kind, params, secret, charset=charset)


def refused(kind: CallbackKind, params: dict[str, str], charset: str = "windows-1251") -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        verify(kind, params, charset=charset)
    return caught.value


def test_signed_strings() -> None:
    assert signed_string(CallbackKind.STATUS, STATUS, SECRET) == "123:79991234567:1:secret"
    assert signed_string(CallbackKind.INCOMING, INCOMING, SECRET) == "79991234567:Привет:79990000000:secret"
    assert signed_string(CallbackKind.CALL_CONFIRMATION, CALL, SECRET) == "79991234567:1700000000:secret"


def test_a_missing_signed_field_is_signed_as_empty() -> None:
    assert signed_string(CallbackKind.STATUS, {"id": "1"}, SECRET) == "1:::secret"


def test_sign_writes_what_the_server_sends() -> None:
    assert sign(CallbackKind.STATUS, STATUS, SECRET, SignatureAlgorithm.MD5) == STATUS_MD5
    assert sign(CallbackKind.STATUS, STATUS, SECRET, SignatureAlgorithm.SHA1) == STATUS_SHA1
    assert sign(CallbackKind.STATUS, STATUS, SECRET, SignatureAlgorithm.CRC32) == str(STATUS_CRC32)
    assert sign(CallbackKind.CALL_CONFIRMATION, CALL, SECRET, SignatureAlgorithm.SHA1) == CALL_SHA1
    cp1251 = sign(CallbackKind.INCOMING, INCOMING, SECRET, SignatureAlgorithm.MD5, encoding="windows-1251")
    assert cp1251 == INCOMING_MD5_CP1251
    assert sign(CallbackKind.INCOMING, INCOMING, SECRET, SignatureAlgorithm.MD5) == INCOMING_MD5_UTF8


@pytest.mark.parametrize(
    ("algorithm", "value"),
    [
        (SignatureAlgorithm.MD5, STATUS_MD5),
        (SignatureAlgorithm.MD5, STATUS_MD5.upper()),
        (SignatureAlgorithm.SHA1, STATUS_SHA1),
        (SignatureAlgorithm.SHA1, STATUS_SHA1.upper()),
        (SignatureAlgorithm.CRC32, str(STATUS_CRC32)),
        (SignatureAlgorithm.CRC32, f"{STATUS_CRC32:x}"),
        (SignatureAlgorithm.CRC32, f"{STATUS_CRC32:X}"),
    ],
)
def test_every_accepted_spelling(algorithm: SignatureAlgorithm, value: str) -> None:
    assert verify(CallbackKind.STATUS, {**STATUS, algorithm.value: value}) is algorithm


@pytest.mark.parametrize(
    "value", [str(KEY50_CRC32), "98a0ec6", "098a0ec6", "98A0EC6", "098A0EC6"], ids=lambda v: f"crc32={v}"
)
def test_crc32_hex_padded_or_not(value: str) -> None:
    params = {**STATUS, "crc32": value}
    assert verify_signature(CallbackKind.STATUS, params, "key50", charset="utf-8") is SignatureAlgorithm.CRC32


@pytest.mark.parametrize(
    "value",
    [
        f"0{STATUS_CRC32}",  # decimal with a leading zero is no form the server writes
        f"0x{STATUS_CRC32:x}",
        str(STATUS_CRC32 - 2**32),  # signed decimal
        str(STATUS_CRC32 + 1),
    ],
)
def test_crc32_other_forms_are_refused(value: str) -> None:
    assert refused(CallbackKind.STATUS, {**STATUS, "crc32": value}).field == "crc32"


def test_signature_over_utf_8_accepted_for_a_windows_1251_callback() -> None:
    params = {**INCOMING, "md5": INCOMING_MD5_UTF8}
    assert verify(CallbackKind.INCOMING, params, charset="windows-1251") is SignatureAlgorithm.MD5


def test_signature_over_the_callback_charset_accepted() -> None:
    assert verify(CallbackKind.INCOMING, {**INCOMING, "md5": INCOMING_MD5_CP1251}) is SignatureAlgorithm.MD5
    koi8 = {**INCOMING, "md5": INCOMING_MD5_KOI8R}
    assert verify(CallbackKind.INCOMING, koi8, charset="koi8-r") is SignatureAlgorithm.MD5


def test_signature_over_a_third_charset_is_refused() -> None:
    # Only the callback's charset and UTF-8 are readings: koi8-r bytes for a windows-1251 callback are not.
    assert refused(CallbackKind.INCOMING, {**INCOMING, "md5": INCOMING_MD5_KOI8R}).field == "md5"
    assert refused(CallbackKind.INCOMING, {**INCOMING, "md5": INCOMING_MD5_CP1251}, "utf-8").field == "md5"


def test_text_the_callback_charset_cannot_spell_is_checked_in_utf_8() -> None:
    # A windows-1251 JSON callback can still carry an emoji as a \u escape.
    params = {**INCOMING, "mes": "ok 😀"}
    params["sha1"] = sign(CallbackKind.INCOMING, params, SECRET, SignatureAlgorithm.SHA1)
    assert verify(CallbackKind.INCOMING, params) is SignatureAlgorithm.SHA1


def test_call_confirmation_signature() -> None:
    params = {**CALL, "sha1": CALL_SHA1}
    assert verify(CallbackKind.CALL_CONFIRMATION, params) is SignatureAlgorithm.SHA1


def test_missing_signature() -> None:
    error = refused(CallbackKind.STATUS, dict(STATUS))
    assert error.field is None
    assert "missing" in error.reason
    assert error.code == "bad_signature"


@pytest.mark.parametrize(
    "params",
    [
        {**STATUS, "md5": STATUS_MD5[:-1] + "0"},
        {**STATUS, "md5": ""},
        {**STATUS, "md5": STATUS_SHA1},
        {**STATUS, "md5": "ы" * 32},
        {**STATUS, "md5": STATUS_MD5, "status": "3"},
        {**STATUS, "md5": STATUS_MD5, "id": "124"},
        {**STATUS, "md5": STATUS_MD5, "phone": "79991234568"},
    ],
)
def test_wrong_signature(params: dict[str, str]) -> None:
    error = refused(CallbackKind.STATUS, params)
    assert error.field == "md5"
    assert "does not match" in error.reason


def test_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify(CallbackKind.STATUS, {**STATUS, "md5": STATUS_MD5}, secret="Secret")


def test_signature_of_another_kind_is_refused() -> None:
    # The same parameters signed as a status do not pass as an incoming SMS (other hashed string).
    params = {**STATUS, "mes": "x", "to": "1", "md5": STATUS_MD5}
    assert refused(CallbackKind.INCOMING, params).field == "md5"


def test_several_signatures_are_all_checked() -> None:
    good = {**STATUS, "md5": STATUS_MD5, "sha1": STATUS_SHA1, "crc32": str(STATUS_CRC32)}
    assert verify(CallbackKind.STATUS, good) is SignatureAlgorithm.MD5
    assert refused(CallbackKind.STATUS, {**good, "sha1": "0" * 40}).field == "sha1"
    assert refused(CallbackKind.STATUS, {**good, "crc32": "1"}).field == "crc32"
    assert refused(CallbackKind.STATUS, {**good, "md5": "0" * 32}).field == "md5"


def test_the_first_present_algorithm_is_returned() -> None:
    assert verify(CallbackKind.STATUS, {**STATUS, "sha1": STATUS_SHA1}) is SignatureAlgorithm.SHA1
    both = {**STATUS, "crc32": str(STATUS_CRC32), "sha1": STATUS_SHA1}
    assert verify(CallbackKind.STATUS, both) is SignatureAlgorithm.SHA1


@pytest.mark.parametrize("secret", ["secret", "A-b_9", "x", "0123456789-_abcXYZ"])
def test_check_secret_accepts(secret: str) -> None:
    assert check_secret(secret) == secret


@pytest.mark.parametrize("secret", ["", "with space", "секрет", "a:b", "a=b", "a&b", "a\n", "a+b"])
def test_check_secret_refuses(secret: str) -> None:
    with pytest.raises(FieldError) as caught:
        check_secret(secret)
    assert caught.value.field == "secret"
    assert caught.value.code == "invalid_field"


def test_sign_refuses_text_its_encoding_cannot_write() -> None:
    params = {"phone": "7999", "mes": "😀", "to": "7000"}
    with pytest.raises(EncodeError, match="windows-1251") as caught:
        sign(CallbackKind.INCOMING, params, "s3cr3t", SignatureAlgorithm.MD5, encoding="windows-1251")
    assert caught.value.field == "signature"
    with pytest.raises(EncodeError, match="no-such-codec"):
        sign(CallbackKind.INCOMING, params, "s3cr3t", SignatureAlgorithm.MD5, encoding="no-such-codec")
