"""Decoding requests: every format in every charset, where the charset and format are found, the `!` rule,
safe XML, exact JSON scalars and the size bounds."""

from __future__ import annotations

import time
from urllib.parse import quote_plus

import pytest

from smsc.charsets import SUPPORTED_CHARSETS
from smsc.errors import DecodeError, InputTooLargeError, SmscError
from smsc.wire import DEFAULT_LIMITS, BodyFormat, DecodedRequest, Limits, decode_request

TEXT = "Привет, мир! Ёжик & <друг>"
PHONE = "79991234567"
BOM = b"\xef\xbb\xbf"


def form(encoding: str, /, **params: str) -> bytes:
    """A form body the way SMSC writes it: every name and value percent-encoded in the charset."""
    return "&".join(
        f"{quote_plus(name.encode(encoding))}={quote_plus(value.encode(encoding))}"
        for name, value in params.items()
    ).encode("ascii")


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml(encoding: str | None, /, root: str = "callback", **params: str) -> str:
    """An XML body: one child element per parameter, with an encoding declaration unless None."""
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    children = "".join(f"<{name}>{xml_escape(value)}</{name}>" for name, value in params.items())
    return f"{declaration}<{root}>{children}</{root}>"


def decode(
    body: bytes, query: str | bytes = b"", content_type: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> DecodedRequest:
    return decode_request(body, query, content_type, limits=limits)


def decode_error(
    body: bytes, query: str | bytes = b"", content_type: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(body, query, content_type, limits)
    return caught.value


# --- every format in every charset ----------------------------------------------------------------


@pytest.mark.parametrize("charset", SUPPORTED_CHARSETS)
def test_form_body_in_each_charset(charset: str) -> None:
    body = form(charset, id="1", phone=PHONE, mes=TEXT, to="79990000000", charset=charset)
    decoded = decode(body, content_type="application/x-www-form-urlencoded")
    assert decoded.params == {"id": "1", "phone": PHONE, "mes": TEXT, "to": "79990000000", "charset": charset}
    assert decoded.charset == charset
    assert decoded.format is BodyFormat.FORM
    assert decoded.query_keys == frozenset()


@pytest.mark.parametrize("charset", SUPPORTED_CHARSETS)
def test_xml_body_in_each_charset(charset: str) -> None:
    body = xml(charset, id="1", phone=PHONE, mes=TEXT, fmt="2").encode(charset)
    decoded = decode(body)
    assert decoded.params == {"id": "1", "phone": PHONE, "mes": TEXT, "fmt": "2"}
    assert decoded.charset == charset
    assert decoded.format is BodyFormat.XML


@pytest.mark.parametrize("charset", SUPPORTED_CHARSETS)
def test_json_body_in_each_charset(charset: str) -> None:
    body = f'{{"id": "1", "phone": "{PHONE}", "mes": "{TEXT}", "charset": "{charset}", "fmt": 3}}'
    decoded = decode(body.encode(charset))
    assert decoded.params == {"id": "1", "phone": PHONE, "mes": TEXT, "charset": charset, "fmt": "3"}
    assert decoded.charset == charset
    assert decoded.format is BodyFormat.JSON


# --- where the charset comes from -----------------------------------------------------------------


def test_charset_from_the_query_string_for_a_form() -> None:
    decoded = decode(form("koi8-r", mes=TEXT), query="charset=koi8-r")
    assert decoded.params == {"charset": "koi8-r", "mes": TEXT}
    assert decoded.charset == "koi8-r"
    assert decoded.query_keys == {"charset"}


def test_charset_from_the_query_string_for_xml_without_a_declaration() -> None:
    decoded = decode(xml(None, mes=TEXT).encode("utf-8"), query=b"charset=utf-8&fmt=2")
    assert decoded.params == {"charset": "utf-8", "fmt": "2", "mes": TEXT}
    assert decoded.charset == "utf-8"


def test_charset_from_the_query_string_for_json() -> None:
    decoded = decode(f'{{"mes": "{TEXT}"}}'.encode(), query="fmt=3&charset=utf-8")
    assert decoded.params == {"fmt": "3", "charset": "utf-8", "mes": TEXT}
    assert decoded.charset == "utf-8"


def test_charset_from_the_form_body_field_wherever_it_stands() -> None:
    body = form("koi8-r", mes=TEXT, phone=PHONE) + b"&charset=koi8-r"
    decoded = decode(body)
    assert decoded.params["mes"] == TEXT
    assert decoded.charset == "koi8-r"


def test_charset_from_the_xml_declaration() -> None:
    decoded = decode(xml("koi8-r", mes=TEXT).encode("koi8-r"))
    assert decoded.params == {"mes": TEXT}
    assert decoded.charset == "koi8-r"


def test_xml_declaration_single_quotes_and_other_pseudo_attributes() -> None:
    body = f"<?xml version='1.0' encoding='utf-8' standalone='yes'?><r><mes>{xml_escape(TEXT)}</mes></r>"
    assert decode(body.encode()).params == {"mes": TEXT}


def test_xml_declaration_is_what_the_bytes_are_in_whatever_the_query_says() -> None:
    # With fmt the provider does not use koi8-r; the document's own declaration names its bytes.
    decoded = decode(xml("utf-8", mes=TEXT).encode("utf-8"), query="charset=koi8-r")
    assert decoded.params["mes"] == TEXT
    assert decoded.charset == "utf-8"


def test_charset_from_a_charset_element() -> None:
    body = xml(None, mes=TEXT, charset="koi8-r").encode("koi8-r")
    decoded = decode(body)
    assert decoded.params == {"mes": TEXT, "charset": "koi8-r"}
    assert decoded.charset == "koi8-r"


def test_charset_element_may_stand_before_the_values() -> None:
    body = xml(None, charset="utf-8", mes=TEXT).encode("utf-8")
    assert decode(body).params["mes"] == TEXT


def test_charset_from_a_json_member() -> None:
    decoded = decode(f'{{"mes": "{TEXT}", "charset" : "koi8-r"}}'.encode("koi8-r"))
    assert decoded.params == {"mes": TEXT, "charset": "koi8-r"}
    assert decoded.charset == "koi8-r"


@pytest.mark.parametrize(
    "layout", ['{{"charset":"utf-8","mes":"{0}"}}', '{{\n  "mes": "{0}",\n\t"charset" :"utf-8"\n}}']
)
def test_charset_member_in_any_position_and_layout(layout: str) -> None:
    decoded = decode(layout.format(TEXT).encode())
    assert (decoded.charset, decoded.params["mes"]) == ("utf-8", TEXT)


def test_a_name_ending_in_an_escaped_quote_and_charset_is_not_the_charset_member() -> None:
    # Raw bytes `"a\"charset": "koi8-r"`: the text "charset" inside a name, not a member of its own.
    body = f'{{"a\\"charset": "koi8-r", "mes": "{TEXT}", "charset": "utf-8"}}'.encode()
    decoded = decode(body)
    assert decoded.charset == "utf-8"
    assert decoded.params == {'a"charset': "koi8-r", "mes": TEXT, "charset": "utf-8"}
    unsupported = f'{{"mes": "{TEXT}", "n\\"charset": "latin1"}}'.encode("windows-1251")
    assert decode(unsupported).params["mes"] == TEXT


def test_default_is_windows_1251_for_a_form() -> None:
    decoded = decode(form("windows-1251", mes=TEXT))
    assert decoded.params == {"mes": TEXT}
    assert decoded.charset == "windows-1251"


def test_default_is_windows_1251_for_xml() -> None:
    decoded = decode(xml(None, mes=TEXT).encode("windows-1251"))
    assert decoded.params == {"mes": TEXT}
    assert decoded.charset == "windows-1251"


def test_default_is_windows_1251_for_json() -> None:
    decoded = decode(f'{{"mes": "{TEXT}"}}'.encode("windows-1251"))
    assert decoded.params == {"mes": TEXT}
    assert decoded.charset == "windows-1251"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("cp1251", "windows-1251"),
        ("KOI8-R", "koi8-r"),
        ("koi8_r", "koi8-r"),
    ],
)
def test_charset_spellings_are_canonicalised(spelling: str, canonical: str) -> None:
    decoded = decode(form(canonical, mes=TEXT, charset=spelling))
    assert decoded.charset == canonical
    assert decoded.params == {"mes": TEXT, "charset": spelling}


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (form("utf-8", mes=TEXT), "charset=utf-16"),
        (form("utf-8", mes=TEXT, charset="latin-1"), ""),
        (form("utf-8", mes=TEXT, charset="base64"), ""),  # a Python codec, but not a charset SMSC uses
        (xml(None, mes="x", charset="utf-16").encode(), ""),
        (b'{"mes": "x", "charset": "ascii"}', ""),
    ],
)
def test_unsupported_charset(body: bytes, query: str) -> None:
    error = decode_error(body, query)
    assert error.field == "charset"
    assert "unsupported charset" in error.reason


def test_unsupported_xml_declaration_encoding() -> None:
    error = decode_error(b'<?xml version="1.0" encoding="utf-16"?><r><id>1</id></r>')
    assert error.field == "xml encoding"


@pytest.mark.parametrize("query", [b"charset=utf-8%00", b"charset=%00", b"charset=%D1%84"])
def test_charset_with_odd_bytes_is_a_decode_error(query: bytes) -> None:
    assert decode_error(b"id=1", query).field == "charset"


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (form("utf-8", mes=TEXT, charset="utf-8"), "charset=koi8-r"),
        (b'{"mes": "x", "charset": "koi8-r"}', "charset=utf-8"),
        (xml(None, mes="x", charset="koi8-r").encode(), "charset=utf-8"),
    ],
)
def test_query_and_body_naming_different_charsets(body: bytes, query: str) -> None:
    error = decode_error(body, query)
    assert error.field == "charset"


# --- the UTF-8 byte order mark --------------------------------------------------------------------


def test_bom_means_utf_8_for_a_form() -> None:
    decoded = decode(BOM + form("utf-8", mes=TEXT))
    assert decoded.params == {"mes": TEXT}
    assert decoded.charset == "utf-8"


def test_bom_means_utf_8_for_json() -> None:
    decoded = decode(BOM + f'{{"mes": "{TEXT}"}}'.encode())
    assert decoded.params == {"mes": TEXT}
    assert (decoded.charset, decoded.format) == ("utf-8", BodyFormat.JSON)


def test_bom_means_utf_8_for_xml() -> None:
    decoded = decode(BOM + xml(None, mes=TEXT).encode())
    assert decoded.params == {"mes": TEXT}
    assert (decoded.charset, decoded.format) == ("utf-8", BodyFormat.XML)


@pytest.mark.parametrize(
    ("body", "expected"),
    [(BOM + b'\r\n  {"id": "1"}', BodyFormat.JSON), (BOM + b"\n<r><id>1</id></r>", BodyFormat.XML)],
)
def test_bom_then_whitespace_is_still_sniffed(body: bytes, expected: BodyFormat) -> None:
    decoded = decode(body)
    assert decoded.format is expected
    assert decoded.params == {"id": "1"}


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (BOM + form("utf-8", mes=TEXT), "charset=windows-1251"),
        (BOM + form("utf-8", mes=TEXT, charset="koi8-r"), ""),
        (BOM + f'{{"mes": "{TEXT}", "charset": "windows-1251"}}'.encode(), ""),
        (BOM + xml("windows-1251", mes=TEXT).encode(), ""),
    ],
)
def test_bom_contradicting_another_charset_is_refused(body: bytes, query: str) -> None:
    error = decode_error(body, query)
    assert error.field == "charset"


# --- invalid bytes for the charset ----------------------------------------------------------------


def test_invalid_utf_8_in_a_form_value_names_the_parameter() -> None:
    error = decode_error(b"id=1&mes=%D0%FF&charset=utf-8")
    assert error.field == "mes"
    assert "utf-8" in error.reason


def test_byte_undefined_in_windows_1251_names_the_parameter() -> None:
    error = decode_error(b"id=1&sender=%98")
    assert error.field == "sender"
    assert "windows-1251" in error.reason


def test_invalid_bytes_in_a_form_name() -> None:
    assert decode_error(b"%FF=1", "charset=utf-8").field == "body parameter name"
    assert decode_error(b"id=1", b"%FF=1&charset=utf-8").field == "query_string parameter name"


def test_invalid_bytes_in_the_query_string_value() -> None:
    assert decode_error(b"charset=utf-8", b"mes=%C3").field == "mes"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="utf-8"?><r><mes>\xff</mes></r>',
        b'{"mes": "\xd0", "charset": "utf-8"}',
        b'{"mes": "\x98"}',
    ],
)
def test_invalid_bytes_in_an_xml_or_json_body(body: bytes) -> None:
    assert decode_error(body).field == "body"


# --- the `!` rule: query string merged with the body ----------------------------------------------


def test_query_and_form_body_are_merged() -> None:
    query = form("utf-8", id="42", phone=PHONE)
    decoded = decode(form("utf-8", status="1", mes=TEXT, charset="utf-8"), query)
    assert decoded.params == {"id": "42", "phone": PHONE, "status": "1", "mes": TEXT, "charset": "utf-8"}
    assert decoded.query_keys == {"id", "phone"}


def test_query_values_are_decoded_in_the_body_charset() -> None:
    query = form("koi8-r", mes=TEXT)
    decoded = decode(form("koi8-r", id="1", charset="koi8-r"), query.decode("ascii"))
    assert decoded.params["mes"] == TEXT


def test_query_merged_with_xml_and_json_bodies() -> None:
    from_xml = decode(xml("utf-8", status="1").encode(), "id=7&phone=" + PHONE)
    assert from_xml.params == {"id": "7", "phone": PHONE, "status": "1"}
    assert from_xml.query_keys == {"id", "phone"}
    from_json = decode(b'{"status": 1}', b"id=7")
    assert from_json.params == {"id": "7", "status": "1"}


def test_the_same_value_in_query_and_body_is_fine() -> None:
    decoded = decode(b"id=7&status=1", b"id=7")
    assert decoded.params == {"id": "7", "status": "1"}
    assert decoded.query_keys == {"id"}


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (b"id=7&status=1", b"id=8"),
        (b'{"id": "7"}', b"id=8"),
        (b"<r><id>7</id></r>", b"id=8"),
        (b"id=7&id=8", b""),
        (b"", b"id=7&id=8"),
    ],
)
def test_conflicting_values_name_the_field(body: bytes, query: bytes) -> None:
    error = decode_error(body, query)
    assert error.field == "id"
    assert "different values" in error.reason


def test_query_string_as_text() -> None:
    assert decode(b"", "id=1&mes=%D0%9F%D1%80%D0%B8&charset=utf-8").params["mes"] == "При"


def test_query_string_text_beyond_latin_1_is_a_decode_error() -> None:
    # A server hands the raw query as bytes or as latin-1 text; anything else cannot be its bytes.
    assert decode_error(b"id=1", "mes=Привет").field == "query_string"


def test_form_details() -> None:
    decoded = decode(b"a=1&&b&c=x+y%2Bz&d=%3D&", b"")
    assert decoded.params == {"a": "1", "b": "", "c": "x y+z", "d": "="}
    assert decode(b"").params == {}


@pytest.mark.parametrize(("body", "query"), [(b"=1", b""), (b"a=1", b"=2")])
def test_empty_parameter_name(body: bytes, query: bytes) -> None:
    assert decode_error(body, query).field in ("body", "query_string")


# --- which format: fmt, Content-Type and the body itself ------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b' \r\n\t{"id": "1"}', BodyFormat.JSON),
        (b" \r\n\t<r><id>1</id></r>", BodyFormat.XML),
        (b"id=1", BodyFormat.FORM),
    ],
)
@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"]
)
def test_the_body_decides_over_a_generic_content_type(
    body: bytes, expected: BodyFormat, content_type: str | None
) -> None:
    decoded = decode(body, content_type=content_type)
    assert decoded.format is expected
    assert decoded.params == {"id": "1"}


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"id": "1"}', "application/json; charset=utf-8", BodyFormat.JSON),
        (b"<r><id>1</id></r>", "APPLICATION/XML", BodyFormat.XML),
        (b"<r><id>1</id></r>", "text/xml", BodyFormat.XML),
        (b"<r><id>1</id></r>", "application/soap+xml", BodyFormat.XML),
    ],
)
def test_a_matching_content_type(body: bytes, content_type: str, expected: BodyFormat) -> None:
    assert decode(body, content_type=content_type).format is expected


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"id=1", "application/json"),
        (b"id=1", "text/xml"),
        (b"<r><id>1</id></r>", "application/json"),
        (b'{"id": "1"}', "application/xml"),
    ],
)
def test_a_contradicting_content_type(body: bytes, content_type: str) -> None:
    error = decode_error(body, content_type=content_type)
    assert error.field == "body"
    assert "Content-Type" in error.reason


def test_an_empty_body_with_a_json_content_type_has_no_parameters() -> None:
    assert decode(b"", b"id=1", "application/json").params == {"id": "1"}


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (b'{"id": "1"}', b"fmt=2"),
        (b"id=1", b"fmt=2"),
        (b"<r><id>1</id></r>", b"fmt=3"),
        (b"id=1", b"fmt=3"),
    ],
)
def test_fmt_in_the_query_contradicting_the_body(body: bytes, query: bytes) -> None:
    error = decode_error(body, query)
    assert error.field == "fmt"


@pytest.mark.parametrize("value", [b"4", b"xml", b"%FF"])
def test_unsupported_fmt(value: bytes) -> None:
    assert decode_error(b"id=1", b"fmt=" + value).field == "fmt"


@pytest.mark.parametrize(("value", "body"), [(b"", b"id=1"), (b"0", b"id=1"), (b"1", b'{"id":"1"}')])
def test_fmt_that_announces_nothing_leaves_the_body_to_decide(value: bytes, body: bytes) -> None:
    assert decode(body, b"fmt=" + value).params["id"] == "1"


def test_fmt_in_the_query_agreeing_with_the_body() -> None:
    assert decode(b"<r><id>1</id></r>", b"fmt=2").format is BodyFormat.XML
    assert decode(b'{"id": 1}', b"fmt=3").format is BodyFormat.JSON


# --- XML ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["callback", "request", "data", "SMSC-Status", "x"])
def test_xml_root_name_is_free(root: str) -> None:
    assert decode(xml("utf-8", root=root, id="1").encode()).params == {"id": "1"}


def test_xml_whitespace_between_elements_is_ignored_but_values_keep_theirs() -> None:
    body = b"\n  <callback>\n    <id>1</id>\n    <mes>  two\n lines\t</mes>\n  </callback>\n"
    assert decode(body).params == {"id": "1", "mes": "  two\n lines\t"}


def test_xml_escapes_cdata_character_references_and_comments() -> None:
    body = b"<r><!-- a note --><mes>a &amp; b &lt;c&gt; &#1060;&#13;</mes><cmt><![CDATA[<x>&]]></cmt></r>"
    assert decode(body).params == {"mes": "a & b <c> Ф\r", "cmt": "<x>&"}


def test_xml_empty_element_is_an_empty_value() -> None:
    assert decode(b"<r><syserr/><err></err></r>").params == {"syserr": "", "err": ""}


def test_xml_default_namespace() -> None:
    body = b'<callback xmlns="urn:smsc"><id>1</id><phone>7</phone></callback>'
    assert decode(body).params == {"id": "1", "phone": "7"}


def test_xml_prefixed_namespace() -> None:
    body = b'<s:callback xmlns:s="urn:smsc"><s:id>1</s:id><s:phone>7</s:phone></s:callback>'
    assert decode(body).params == {"id": "1", "phone": "7"}


def test_xml_attributes_only_root() -> None:
    body = f'<?xml version="1.0" encoding="utf-8"?><callback id="1" mes="{xml_escape(TEXT)}" />'.encode()
    assert decode(body).params == {"id": "1", "mes": TEXT}


def test_xml_nested_element_names_the_field() -> None:
    error = decode_error(b"<r><id>1</id><phone><number>7</number></phone></r>")
    assert error.field == "phone"
    assert "nested" in error.reason


def test_xml_repeated_element() -> None:
    assert decode(b"<r><id>1</id><id>1</id></r>").params == {"id": "1"}
    assert decode_error(b"<r><id>1</id><id>2</id></r>").field == "id"


@pytest.mark.parametrize(
    "body",
    [b"<r><id>1</id>", b"<r><id>1</r>", b"<r/><r/>", b"<", b"<r><id>\x00</id></r>", b"<r><1>x</1></r>"],
)
def test_malformed_xml(body: bytes) -> None:
    error = decode_error(body)
    assert error.field == "body"
    assert "malformed XML" in error.reason


def test_xml_with_a_dtd_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ELEMENT r ANY>]><r><id>1</id></r>'
    error = decode_error(body)
    assert error.field == "body"
    assert "forbidden" in error.reason


def test_billion_laughs_is_refused_without_expansion() -> None:
    entities = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    body = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY lol0 "lol">{entities}]><r><mes>&lol9;</mes></r>'
    started = time.perf_counter()
    error = decode_error(body.encode())
    assert time.perf_counter() - started < 1.0
    assert error.field == "body"
    assert "forbidden" in error.reason


def test_external_entity_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><mes>&x;</mes></r>'
    error = decode_error(body)
    assert error.field == "body"
    assert "forbidden" in error.reason


def test_undeclared_entity_is_malformed_not_expanded() -> None:
    assert decode_error(b"<r><mes>&nbsp;</mes></r>").field == "body"


# --- JSON -----------------------------------------------------------------------------------------


def test_json_numbers_keep_their_digits() -> None:
    body = (
        b'{"cost": 1.10, "id": 123, "ts": 1700000000, "big": 123456789012345678901234567890,'
        b' "e": 1E5, "n": -0.50}'
    )
    assert decode(body).params == {
        "cost": "1.10",
        "id": "123",
        "ts": "1700000000",
        "big": "123456789012345678901234567890",
        "e": "1E5",
        "n": "-0.50",
    }


def test_json_escapes() -> None:
    body = rb'{"mes": "\u041f\u0440\u0438 \"q\" \\ \n \ud83d\ude00", "a\/b": ""}'
    assert decode(body).params == {"mes": 'При "q" \\ \n 😀', "a/b": ""}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("true", "a boolean"),
        ("false", "a boolean"),
        ("null", "null"),
        ('{"x": 1}', "an object"),
        ("[1]", "an array"),
    ],
)
def test_json_non_scalar_names_the_field(value: str, kind: str) -> None:
    error = decode_error(f'{{"id": "1", "err": {value}}}'.encode())
    assert error.field == "err"
    assert kind in error.reason


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_non_finite_constants(constant: str) -> None:
    assert "not a valid parameter value" in decode_error(f'{{"cost": {constant}}}'.encode()).reason


def test_json_repeated_name() -> None:
    assert decode(b'{"id": "1", "id": 1}').params == {"id": "1"}
    error = decode_error(b'{"id": "1", "id": "2"}')
    assert error.field == "id"


@pytest.mark.parametrize("body", [b'[{"id": "1"}]', b" []"])
@pytest.mark.parametrize("query", [b"", b"fmt=3"])
@pytest.mark.parametrize("content_type", [None, "application/json"])
def test_json_top_level_array_is_refused(body: bytes, query: bytes, content_type: str | None) -> None:
    error = decode_error(body, query, content_type)
    assert error.field == "body"
    assert "not an object" in error.reason


@pytest.mark.parametrize("body", [b'"id"', b"1", b"null"])
def test_json_top_level_scalar_is_refused(body: bytes) -> None:
    assert decode_error(body, b"fmt=3").field == "fmt"
    assert decode_error(body, content_type="application/json").field == "body"


@pytest.mark.parametrize("body", [b'{"id": }', b'{"id": "1"', b'{"id": "1"} x', b"{'id': '1'}", b"{"])
def test_malformed_json(body: bytes) -> None:
    error = decode_error(body)
    assert error.field == "body"
    assert "malformed JSON" in error.reason


def test_json_lone_surrogate_names_the_field() -> None:
    assert decode_error(rb'{"mes": "\ud800"}').field == "mes"
    assert decode_error(rb'{"\udfff": "1"}').field == "\udfff"


def test_json_nested_too_deeply() -> None:
    depth = 30_000
    error = decode_error(b'{"a": ' + b"[" * depth + b"]" * depth + b"}")
    assert error.field == "body"


# --- size bounds ----------------------------------------------------------------------------------


def test_body_too_large() -> None:
    limits = Limits(max_body_bytes=10)
    assert decode(b"id=1234567", limits=limits).params == {"id": "1234567"}
    with pytest.raises(InputTooLargeError) as caught:
        decode(b"id=12345678", limits=limits)
    assert caught.value.field == "body"
    assert caught.value.code == "too_large"


def test_default_body_limit() -> None:
    with pytest.raises(InputTooLargeError):
        decode(b"mes=" + b"a" * 64 * 1024)


def test_query_too_large() -> None:
    limits = Limits(max_query_bytes=4)
    assert decode(b"", b"id=1", limits=limits).params == {"id": "1"}
    with pytest.raises(InputTooLargeError) as caught:
        decode(b"", "id=12", limits=limits)
    assert caught.value.field == "query_string"


def test_too_many_parameters() -> None:
    limits = Limits(max_parameters=3)
    assert len(decode(b"a=1&b=2", b"c=3", limits=limits).params) == 3
    with pytest.raises(InputTooLargeError) as caught:
        decode(b"a=1&b=2&d=4", b"c=3", limits=limits)
    assert caught.value.field == "body"


@pytest.mark.parametrize(
    "body",
    [
        b"x" * 65 + b"=1",
        b'{"' + b"x" * 65 + b'": "1"}',
        b"<r><" + b"x" * 65 + b">1</" + b"x" * 65 + b"></r>",
    ],
)
def test_parameter_name_too_long(body: bytes) -> None:
    with pytest.raises(InputTooLargeError) as caught:
        decode(body)
    assert caught.value.field == "x" * 64


LONG = "x" * 1000


@pytest.mark.parametrize(
    "body",
    [
        f"{LONG}=%98".encode(),
        f'{{"{LONG}": true}}'.encode(),
        f'{{"{LONG}": "\\ud800"}}'.encode(),
        f"<r><{LONG}><y/></{LONG}></r>".encode(),
    ],
    ids=["form value", "json value", "json surrogate", "xml nested"],
)
def test_an_error_names_a_long_field_in_at_most_64_characters(body: bytes) -> None:
    assert decode_error(body).field == LONG[:64]


@pytest.mark.parametrize("body", [b'{"": "1"}', b'{"id": "1", "": ""}'])
def test_json_empty_name_is_refused_as_in_a_form(body: bytes) -> None:
    error = decode_error(body)
    assert error.field == "body"
    assert "empty name" in error.reason


def test_error_codes_are_bounded_labels() -> None:
    assert decode_error(b"<r>").code == "undecodable"
    error: SmscError = decode_error(b"mes=%98")
    assert str(error) == f"mes: {error.reason}"
