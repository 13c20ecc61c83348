"""The 2-byte `flag` bit field of a status callback: message type, second balance, template and its kind."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from smsc.errors import FieldError

_TYPE_MASK: Final = 0b1111
_SECOND_BALANCE_BIT: Final = 1 << 5
_TEMPLATE_BIT: Final = 1 << 8
_TEMPLATE_KIND_SHIFT: Final = 9


class TemplateKind(StrEnum):
    """Bits 10,9 of `flag` of a template: 00 service, 01 transactional, 10 authorization, 11 advertising."""

    SERVICE = "service"
    TRANSACTIONAL = "transactional"
    AUTHORIZATION = "authorization"
    ADVERTISING = "advertising"


_TEMPLATE_KINDS: Final = tuple(TemplateKind)


class Balance(StrEnum):
    MAIN = "main"
    SECOND = "second"


@dataclass(frozen=True, slots=True)
class Flag:
    raw: int

    def __post_init__(self) -> None:
        if not 0 <= self.raw <= 0xFFFF:
            raise FieldError(f"{self.raw} is not a 2-byte value", field="flag")

    @property
    def message_type(self) -> int:
        """Bits 0-3: the same codes as `type` (0 SMS ... 10 Viber, 12 social; 8 e-mail only here)."""
        return self.raw & _TYPE_MASK

    @property
    def second_balance(self) -> bool:
        return bool(self.raw & _SECOND_BALANCE_BIT)

    @property
    def balance(self) -> Balance:
        return Balance.SECOND if self.second_balance else Balance.MAIN

    @property
    def template(self) -> bool:
        return bool(self.raw & _TEMPLATE_BIT)

    @property
    def template_kind(self) -> TemplateKind | None:
        """The template kind, or None for a message that is not a template (bit 8 clear)."""
        if not self.template:
            return None
        return _TEMPLATE_KINDS[(self.raw >> _TEMPLATE_KIND_SHIFT) & 0b11]

    @classmethod
    def build(
        cls,
        message_type: int = 0,
        *,
        second_balance: bool = False,
        template_kind: TemplateKind | None = None,
    ) -> Flag:
        """The inverse of the properties, for the simulator and tests."""
        if not 0 <= message_type <= _TYPE_MASK:
            raise FieldError(f"message type {message_type} does not fit bits 0-3", field="flag")
        raw = message_type | (_SECOND_BALANCE_BIT if second_balance else 0)
        if template_kind is not None:
            raw |= _TEMPLATE_BIT | (_TEMPLATE_KINDS.index(template_kind) << _TEMPLATE_KIND_SHIFT)
        return cls(raw)
