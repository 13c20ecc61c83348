"""The exceptions of the protocol library: one root, each naming the field and the reason."""

from __future__ import annotations

from typing import Final

#: A field is named in at most this many characters: a request can carry names of any length.
MAX_FIELD_CHARS: Final = 64


class SmscError(Exception):
    """Root of every error this library raises: `field` names the parameter (or None), `reason` says why."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        field = None if field is None else field[:MAX_FIELD_CHARS]
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)

    @property
    def code(self) -> str:
        """A short, stable, bounded identifier of the error class (safe as a metric label)."""
        return _CODES.get(type(self), "invalid")


class DecodeError(SmscError):
    """The request (query string, body, charset, format) cannot be turned into parameters."""


class InputTooLargeError(DecodeError):
    """The request exceeds a size bound (body bytes, query bytes, parameter count, value length)."""


class FieldError(SmscError):
    """A parameter is missing or its value is not what the protocol says it is."""


class SignatureError(SmscError):
    """The callback's signature is missing or does not match the account's secret."""


class EncodeError(SmscError):
    """Parameters cannot be written in the requested charset or format."""


_CODES: dict[type[SmscError], str] = {
    DecodeError: "undecodable",
    InputTooLargeError: "too_large",
    FieldError: "invalid_field",
    SignatureError: "bad_signature",
    EncodeError: "unencodable",
}
