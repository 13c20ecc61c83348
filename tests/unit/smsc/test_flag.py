"""The `flag` bit field: every bit the provider documents, both ways."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc import Balance, FieldError, Flag, TemplateKind


@pytest.mark.parametrize(
    ("raw", "message_type", "balance", "template_kind"),
    [
        (0, 0, Balance.MAIN, None),
        (10, 10, Balance.MAIN, None),
        (1 << 5, 0, Balance.SECOND, None),
        (1 << 8, 0, Balance.MAIN, TemplateKind.SERVICE),
        (1 << 8 | 1 << 9, 0, Balance.MAIN, TemplateKind.TRANSACTIONAL),
        (1 << 8 | 1 << 10, 0, Balance.MAIN, TemplateKind.AUTHORIZATION),
        (1 << 8 | 1 << 9 | 1 << 10 | 1 << 5 | 7, 7, Balance.SECOND, TemplateKind.ADVERTISING),
        (1 << 9 | 1 << 10, 0, Balance.MAIN, None),  # kind bits without the template bit: not a template
    ],
)
def test_bits(raw: int, message_type: int, balance: Balance, template_kind: TemplateKind | None) -> None:
    flag = Flag(raw)
    assert (flag.message_type, flag.balance, flag.template_kind) == (message_type, balance, template_kind)
    assert flag.template is (template_kind is not None)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 15), st.booleans(), st.sampled_from([None, *TemplateKind]))
def test_build_round_trips(message_type: int, second: bool, kind: TemplateKind | None) -> None:
    flag = Flag.build(message_type, second_balance=second, template_kind=kind)
    assert (flag.message_type, flag.second_balance, flag.template_kind) == (message_type, second, kind)


def test_out_of_range() -> None:
    with pytest.raises(FieldError, match="2-byte"):
        Flag(1 << 16)
    with pytest.raises(FieldError, match="bits 0-3"):
        Flag.build(16)
