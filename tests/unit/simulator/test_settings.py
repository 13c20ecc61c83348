"""Options and environment -> settings -> scenario and posting policy; bad values named, exit 2."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator import ErrorBurst, Faults, Recipients
from simulator.__main__ import build_parser, main
from simulator.settings import CALLBACKS_PER_EVENT, SimulatorSettings
from smsc import BodyFormat, SignatureAlgorithm

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def settings(*argv: str) -> SimulatorSettings:
    return SimulatorSettings(**vars(build_parser().parse_args(list(argv))))


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--url",
        "--rate",
        "--duration",
        "--count",
        "--concurrency",
        "--account",
        "--secret",
        "--signature",
        "--charset",
        "--format",
        "--seed",
        "--retry-interval",
        "--max-attempts",
        "--truth",
        "--error-burst",
        "--malformed-ratio",
        "--duplicate-ratio",
        "--unsigned-ratio",
        "--bad-signature-ratio",
        "--out-of-order-ratio",
        "--late-ratio",
        "--query-keys",
        "--mix",
        "--drain-timeout",
        "--degrade-carrier",
        "--ported-share",
        "--ported-settle",
    ):
        assert option in out
    assert "(default 240, as SMSC)" in out
    assert "(default 50, as SMSC)" in out
    for action in build_parser()._actions:
        assert action.help, action.option_strings


def test_defaults() -> None:
    chosen = settings()
    scenario, policy = chosen.scenario(now=NOW), chosen.policy()
    assert scenario.start == NOW
    assert scenario.account == "default"
    assert scenario.messages_per_second == pytest.approx(100.0 / CALLBACKS_PER_EVENT)
    assert scenario.wire.charset is None
    assert scenario.wire.body_format is None
    assert scenario.wire.query_keys is None
    assert scenario.wire.secret is None
    assert scenario.faults == Faults()
    assert scenario.recipients == Recipients()
    assert scenario.recipients.ported_settle_seconds == 60.0
    assert (policy.retry_interval_seconds, policy.max_attempts) == (240.0, 50)
    assert (policy.count, policy.duration_seconds, policy.drain_timeout_seconds) == (None, None, None)
    assert policy.rate_per_second == 100.0


def test_options_reach_the_scenario_and_the_policy(tmp_path: Path) -> None:
    chosen = settings(
        *("--url", "http://127.0.0.1:9/smsc/callback", "--account", "acme", "--rate", "0", "--count", "10"),
        *("--duration", "5", "--concurrency", "3", "--seed", "77", "--secret", "k-1", "--signature", "crc32"),
        *("--charset", "cp1251", "--format", "xml", "--query-keys", "id,phone", "--mix", "sms=1,voice=1"),
        *("--retry-interval", "0.5", "--max-attempts", "4", "--timeout", "2", "--drain-timeout", "9"),
        *("--error-burst", "10:5", "--error-burst", "30:5:248", "--error-burst-ratio", "0.5"),
        *("--duplicate-ratio", "0.1", "--malformed-ratio", "0.2", "--unsigned-ratio", "0.3"),
        *("--bad-signature-ratio", "0.4", "--out-of-order-ratio", "0.5", "--late-ratio", "0.6"),
        *("--start", "2025-03-03T09:00:00+03:00", "--truth", str(tmp_path / "t.json")),
    )
    scenario, policy = chosen.scenario(now=NOW), chosen.policy()
    assert (scenario.seed, scenario.account, scenario.messages_per_second) == (77, "acme", 10.0)
    assert scenario.start == datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
    assert scenario.mix.sms == scenario.mix.voice == 1.0
    assert scenario.mix.viber == 0.0
    wire = scenario.wire
    assert (wire.charset, wire.body_format, wire.query_keys) == (
        "windows-1251",
        BodyFormat.XML,
        ("id", "phone"),
    )
    assert (wire.secret, wire.algorithm) == ("k-1", SignatureAlgorithm.CRC32)
    assert scenario.faults == Faults(
        duplicate_ratio=0.1,
        malformed_ratio=0.2,
        unsigned_ratio=0.3,
        bad_signature_ratio=0.4,
        out_of_order_ratio=0.5,
        late_ratio=0.6,
        error_bursts=(ErrorBurst(10, 5, 255, 0.5), ErrorBurst(30, 5, 248, 0.5)),
    )
    assert policy.rate_per_second is None
    assert (policy.count, policy.duration_seconds, policy.concurrency) == (10, 5.0, 3)
    assert (policy.retry_interval_seconds, policy.max_attempts, policy.timeout_seconds) == (0.5, 4, 2.0)
    assert policy.drain_timeout_seconds == 9.0
    assert chosen.truth_path == tmp_path / "t.json"


def test_destination_options_reach_the_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = settings("--degrade-carrier", "RU:MegaFon", "--ported-share", "0.05", "--ported-settle", "120")
    assert chosen.scenario(now=NOW).recipients == Recipients("RU:MegaFon", 0.05, 120.0)
    monkeypatch.setenv("SMSC_SIMULATOR_DEGRADE_CARRIER", "T2")
    assert settings().scenario(now=NOW).recipients.degrade_carrier == "T2"


def test_an_unknown_degraded_carrier_exits_2_naming_the_simulated_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--degrade-carrier", "Vodafone"]) == 2
    err = capsys.readouterr().err
    assert "smsc-analytics simulate: degrade_carrier: no simulated carrier 'Vodafone'" in err
    assert "Beeline, Kcell/Activ, MTS, MegaFon, T-Mobile, T2, Turkcell, Ucell, Velcom" in err


def test_no_query_keys() -> None:
    assert settings("--query-keys", "none").wire().query_keys == ()


def test_the_environment_sets_what_options_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSC_SIMULATOR_SEED", "5")
    monkeypatch.setenv("SMSC_SIMULATOR_ACCOUNT", "from-env")
    chosen = settings("--seed", "6")
    assert (chosen.seed, chosen.account) == (6, "from-env")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--secret", "not a secret!"], "SMSC_SIMULATOR_SECRET"),
        (["--charset", "latin-1"], "SMSC_SIMULATOR_CHARSET"),
        (["--url", "ftp://example.org/x"], "SMSC_SIMULATOR_URL"),
        (["--url", "http://127.0.0.1:8080/cb?md5=x"], "SMSC_SIMULATOR_URL"),
        (["--duplicate-ratio", "2"], "SMSC_SIMULATOR_DUPLICATE_RATIO"),
        (["--concurrency", "0"], "SMSC_SIMULATOR_CONCURRENCY"),
        (["--account", "a/b"], "SMSC_SIMULATOR_ACCOUNT"),
        (["--start", "2025-03-03T09:00:00"], "SMSC_SIMULATOR_START"),
        (["--ported-share", "1.5"], "SMSC_SIMULATOR_PORTED_SHARE"),
        (["--ported-settle", "-1"], "SMSC_SIMULATOR_PORTED_SETTLE_SECONDS"),
    ],
)
def test_invalid_settings_are_named_and_exit_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"), [(["--mix", "mms=1"], "mix"), (["--error-burst", "x"], "error_burst")]
)
def test_invalid_workload_options_exit_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert f"smsc-analytics simulate: {named}: " in capsys.readouterr().err
