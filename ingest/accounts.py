"""The SMSC accounts ingest answers for, and the signature secret of each (or none)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

from smsc.errors import FieldError
from smsc.signature import check_secret

#: Plain `/smsc/callback` belongs to this account; it always exists, without a secret unless one is named.
DEFAULT_ACCOUNT: Final = "default"
#: The `account` label of requests for names that are not configured: strangers cannot invent label values.
UNKNOWN_ACCOUNT_LABEL: Final = "unknown"

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class AccountConfigError(ValueError):
    """`SMSC_ACCOUNT_SECRETS` (or its file) is malformed; the message names the entry, never a secret."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    secret: SecretStr | None

    @property
    def requires_signature(self) -> bool:
        return self.secret is not None


class Accounts(Mapping[str, Account]):
    """Account name -> account. Built once at start; looked up on every request."""

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        self._accounts = dict(accounts)
        self._accounts.setdefault(DEFAULT_ACCOUNT, Account(DEFAULT_ACCOUNT, None))

    def __getitem__(self, name: str) -> Account:
        return self._accounts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)

    def __repr__(self) -> str:
        signed = ", ".join(f"{a.name}{'(signed)' if a.secret else ''}" for a in self._accounts.values())
        return f"Accounts({signed})"


def parse_accounts(text: str) -> Accounts:
    """`acme=s3cr3t,default=other,beta=` -> accounts; `beta=` declares an account without a secret.

    Entries are separated by commas or newlines (a mounted secrets file reads naturally either way);
    blank entries and lines starting with `#` are ignored.
    """
    accounts: dict[str, Account] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith("#"):
            continue
        for entry in line.split(","):
            entry = entry.strip()
            if not entry:
                continue
            name, equals, secret = entry.partition("=")
            name, secret = name.strip(), secret.strip()
            where = f"entry {name[:64]!r} (line {number})"
            if not equals:
                raise AccountConfigError(f"{where}: expected account=secret, or account= for none")
            if not _NAME.fullmatch(name):
                raise AccountConfigError(
                    f"{where}: an account name is 1-64 of letters, digits, '_', '.', '-' and starts with "
                    "a letter or digit"
                )
            if name == UNKNOWN_ACCOUNT_LABEL:
                raise AccountConfigError(
                    f"{where}: '{UNKNOWN_ACCOUNT_LABEL}' is reserved (the label of unknown accounts)"
                )
            if name in accounts:
                raise AccountConfigError(f"{where}: the account is named twice")
            if secret:
                try:
                    check_secret(secret)
                except FieldError as exc:
                    raise AccountConfigError(f"{where}: {exc.reason}") from None
            accounts[name] = Account(name, SecretStr(secret) if secret else None)
    return Accounts(accounts)
