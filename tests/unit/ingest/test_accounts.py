"""Parsing SMSC_ACCOUNT_SECRETS: the named accounts plus `default`, each with its secret or none."""

from __future__ import annotations

import pytest

from ingest.accounts import AccountConfigError, parse_accounts


def test_accounts_with_and_without_secrets_plus_default() -> None:
    accounts = parse_accounts("acme=s3cr3t, beta= ,gamma=a-b_C9")
    assert sorted(accounts) == ["acme", "beta", "default", "gamma"]
    secret = accounts["acme"].secret
    assert secret is not None
    assert secret.get_secret_value() == "s3cr3t"
    assert accounts["beta"].secret is None
    assert not accounts["default"].requires_signature
    assert accounts["acme"].requires_signature


def test_default_may_have_a_secret() -> None:
    secret = parse_accounts("default=other")["default"].secret
    assert secret is not None
    assert secret.get_secret_value() == "other"


def test_an_empty_value_is_just_default() -> None:
    assert list(parse_accounts("")) == ["default"]


def test_a_file_with_lines_and_comments() -> None:
    accounts = parse_accounts("# production accounts\nacme=s3cr3t\n\nbeta=\n")
    assert sorted(accounts) == ["acme", "beta", "default"]


def test_the_secret_never_appears_in_repr() -> None:
    assert "s3cr3t" not in repr(parse_accounts("acme=s3cr3t"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("acme", "expected account=secret"),
        ("ac/me=x", "an account name is"),
        ("=x", "an account name is"),
        ("acme=a,acme=b", "named twice"),
        ("acme=bad secret!", "Latin letters"),
        ("unknown=", "reserved"),
    ],
)
def test_malformed_entries_are_named(text: str, message: str) -> None:
    with pytest.raises(AccountConfigError, match=message):
        parse_accounts(text)


def test_an_error_does_not_echo_the_secret() -> None:
    with pytest.raises(AccountConfigError) as caught:
        parse_accounts("acme=tops3cret!")
    assert "tops3cret" not in str(caught.value)
