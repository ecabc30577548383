"""argparse types of the command-line tools: a value or a one-line usage error."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
import zmq.auth
from hypothesis import given
from hypothesis import strategies as st

from raspy.cli.arguments import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT_S,
    CurveOptionError,
    add_hub_options,
    client_curve,
    count_argument,
    not_a_folder,
    seconds_argument,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ten", 'expected seconds, got "ten"'),
        ("0", 'expected seconds > 0, at most 31536000 (a year), got "0"'),
        ("-1.5", 'expected seconds > 0, at most 31536000 (a year), got "-1.5"'),
        ("nan", 'expected seconds > 0, at most 31536000 (a year), got "nan"'),
        ("1e400", 'expected seconds > 0, at most 31536000 (a year), got "1e400"'),
        ("inf", 'expected seconds > 0, at most 31536000 (a year), got "inf"'),
    ],
)
def test_bad_seconds_are_refused_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        seconds_argument(text)
    assert str(refused.value) == message


def test_seconds_are_read_as_a_float() -> None:
    assert seconds_argument("2.5") == 2.5


@given(st.text(max_size=40))
def test_any_text_gives_seconds_above_zero_or_a_usage_error(text: str) -> None:
    try:
        seconds = seconds_argument(text)
    except argparse.ArgumentTypeError:
        return
    assert seconds > 0 or math.isinf(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("three", 'expected a count, got "three"'),
        ("0", 'expected a count >= 1, got "0"'),
        ("-3", 'expected a count >= 1, got "-3"'),
        ("1.5", 'expected a count, got "1.5"'),
    ],
)
def test_bad_counts_are_refused_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        count_argument(text)
    assert str(refused.value) == message


@given(st.text(max_size=40))
def test_any_text_gives_a_count_of_one_or_more_or_a_usage_error(text: str) -> None:
    try:
        count = count_argument(text)
    except argparse.ArgumentTypeError:
        return
    assert count >= 1


# --- the hub options and the CURVE pair, shared by `raspy history`, `raspy scenario`,
# `raspy call` ---------------------------------------------------------------------------
def hub_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t")
    add_hub_options(parser)
    return parser


def test_hub_options_default_to_the_local_hub_and_no_curve() -> None:
    args = hub_parser().parse_args([])
    assert (
        args.server, args.host, args.timeout, args.server_key, args.client_cert
    ) == (DEFAULT_SERVER, None, DEFAULT_TIMEOUT_S, None, None)  # fmt: skip
    assert DEFAULT_SERVER == "tcp://127.0.0.1:5514"
    assert client_curve(args, "t") is None


@pytest.mark.parametrize(
    "argv", [["--server-key", "hub.key"], ["--client-cert", "me.key_secret"]]
)
def test_one_curve_option_alone_is_refused(argv: list[str]) -> None:
    args = hub_parser().parse_args(argv)
    with pytest.raises(CurveOptionError) as refused:
        client_curve(args, "t")
    assert str(refused.value) == "--server-key and --client-cert go together"


def test_a_missing_certificate_is_refused_naming_the_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.key")
    args = hub_parser().parse_args(
        ["--server-key", missing, "--client-cert", missing + "_secret"]
    )
    with pytest.raises(CurveOptionError) as refused:
        client_curve(args, "t")
    assert "absent.key" in str(refused.value)


def test_the_curve_pair_loads_the_hub_key_and_this_clients_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_public, _ = zmq.auth.create_certificates(str(tmp_path), "hub")
    _, me_secret = zmq.auth.create_certificates(str(tmp_path), "me")
    args = hub_parser().parse_args(
        ["--server-key", hub_public, "--client-cert", me_secret]
    )
    keys = client_curve(args, "t")
    assert keys is not None
    assert keys.server_key == zmq.auth.load_certificate(hub_public)[0]
    assert (keys.public_key, keys.secret_key) == zmq.auth.load_certificate(me_secret)
    assert capsys.readouterr().err == ""  # the hub's public half: no warning


def test_a_bad_server_endpoint_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        hub_parser().parse_args(["--server", "localhost"])
    assert exited.value.code == 2
    assert "argument --server" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("given", "server"),
    [
        ("tcp://127.0.0.1:5514", "tcp://127.0.0.1:5514"),
        ("127.0.0.1:5514", "tcp://127.0.0.1:5514"),  # as raspy-kv takes it
        ("hub.local:6000", "tcp://hub.local:6000"),
        ("[::1]:5514", "tcp://[::1]:5514"),
    ],
)
def test_a_server_is_tcp_host_port_or_host_port_alone(given: str, server: str) -> None:
    assert hub_parser().parse_args(["--server", given]).server == server


def test_a_data_dir_stat_cannot_see_is_left_to_the_mkdir_not_a_bug(
    tmp_path: Path,
) -> None:
    """Path.is_dir() raises for errors other than "no such file" (Python 3.11: a
    folder the user may not open, a name too long): argparse let it through, and
    raspyd said "internal error … a bug in raspy". The walk goes on up instead."""
    too_long = tmp_path / ("a" * 300) / "data"
    assert not_a_folder(str(too_long)) is None
    afile = tmp_path / "f"
    afile.write_text("x", encoding="utf-8")
    assert (
        not_a_folder(str(afile / "data"))
        == f"{afile}/data: {afile} is a file, not a folder"
    )
