"""raspy.secrets_file: the TOML file of `{secret.NAME}` values, its problems named
by file, line and name (never a value), read again when it changes; and
raspy.config_files naming a bad one for `raspyd --check-config` and the start."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from raspy import config, config_files
from raspy.errors import ConfigError
from raspy.secrets_file import (
    Loaded,
    SecretsFile,
    mode_problem,
    parse_secrets,
    read_secrets,
    say_mode,
    secrets_path,
)

pytestmark = pytest.mark.timeout(30)

GOOD = 'telegram_token = "123:abc"\nntfy_topic = "house-7fq2k"\n'


def test_a_file_of_names_and_texts_is_read() -> None:
    assert parse_secrets(GOOD, "s.toml") == {
        "telegram_token": "123:abc",
        "ntfy_topic": "house-7fq2k",
    }


def test_a_toml_error_is_named_with_its_line_and_no_value() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_secrets('a = "ok"\ntoken = 123:abc-secret\n', "s.toml")
    assert caught.value.problems == [
        "s.toml: not TOML: Expected newline or end of document after a statement "
        "(at line 2, column 12)"
    ]


def test_a_value_that_is_no_text_and_a_bad_name_are_each_named() -> None:
    text = 'pin = 1234\n"my token" = "t"\n[chat]\nid = "x"\n'
    with pytest.raises(ConfigError) as caught:
        parse_secrets(text, "s.toml")
    assert caught.value.problems == [
        's.toml: pin: expected text (pin = "..."), got a number (quote it to keep'
        " it as written)",
        's.toml: "my token": a secret\'s name is letters, digits and _ (not first),'
        " as {secret.NAME} names it",
        's.toml: chat: expected text (chat = "..."), got a table',
    ]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("on = true", "true or false"),
        ("ratio = 0.5", "a number (quote it to keep it as written)"),
        ('ids = ["a", "b"]', "a list"),
        ("since = 2026-12-06", "a date or time (quote it)"),
        ("at = 07:30:00", "a date or time (quote it)"),
    ],
)
def test_a_value_that_is_no_text_is_named_by_its_kind_not_shown(
    line: str, kind: str
) -> None:
    name = line.split(" ", maxsplit=1)[0]
    with pytest.raises(ConfigError) as caught:
        parse_secrets(line + "\n", "s.toml")
    assert caught.value.problems == [
        f's.toml: {name}: expected text ({name} = "..."), got {kind}'
    ]


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    secrets = SecretsFile(path)
    assert secrets.load() == Loaded(str(path), problem=f"{path}: no such file")
    path.write_text(GOOD, encoding="utf-8")
    assert secrets.load().values["ntfy_topic"] == "house-7fq2k"
    path.write_text('ntfy_topic = "moved-to-a-new-topic"\n', encoding="utf-8")
    assert secrets.load() == Loaded(str(path), {"ntfy_topic": "moved-to-a-new-topic"})
    path.write_text("ntfy_topic = \n", encoding="utf-8")
    assert secrets.load() == Loaded(
        str(path),
        problem=f"{path}: not TOML: Invalid value (at line 1, column 14)",
    )


def test_a_file_others_may_read_is_named_with_its_fix(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(GOOD, encoding="utf-8")
    os.chmod(path, 0o600)
    assert mode_problem(path) is None
    os.chmod(path, 0o640)
    assert mode_problem(path) == (0o640, f"chmod 600 {path}")
    other = os.geteuid() + 1  # another user's file: its group may read it
    assert mode_problem(path, uid=other) is None
    os.chmod(path, 0o644)
    assert mode_problem(path, uid=other) == (0o644, f"chmod 640 {path}")
    with capture_logs() as logs:
        assert say_mode(path)
    assert logs == [
        {
            "component": "http_client",
            "event": "secrets_file_mode",
            "log_level": "warning",
            "path": str(path),
            "mode": "0644",
            "reason": "the group or others may read or write the secrets",
            "fix": f"chmod 600 {path}",
        }
    ]


def test_the_data_dirs_file_is_the_default() -> None:
    assert secrets_path("/var/lib/raspy", "") == Path("/var/lib/raspy/secrets.toml")
    assert secrets_path("/var/lib/raspy", "/etc/raspy/s.toml") == Path(
        "/etc/raspy/s.toml"
    )


def _problems(text: str) -> list[str]:
    loaded = config.load(text, "raspyd.toml")
    assert config_files.problems(loaded) == []  # the start does not refuse it
    return config_files.secrets_problems(loaded)


def test_check_config_names_a_bad_or_missing_secrets_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _problems(f'data_dir = "{data}"\n') == []  # none in the data dir: none
    data.mkdir()
    (data / "secrets.toml").write_text("token = 5\n", encoding="utf-8")
    assert _problems(f'data_dir = "{data}"\n') == [
        f"http_client.secrets_file: {data}/secrets.toml: token: expected text "
        '(token = "..."), got a number (quote it to keep it as written)'
    ]
    assert _problems(f'data_dir = "{data}"\n[http_client]\nenabled = false\n') == []
    missing = tmp_path / "nope.toml"
    assert _problems(f'[http_client]\nsecrets_file = "{missing}"\n') == [
        f"http_client.secrets_file: {missing}: no such file"
    ]


def test_a_byte_order_mark_at_the_start_of_the_file_is_skipped(tmp_path: Path) -> None:
    """Windows editors write one: it was `not TOML: Invalid statement (at line 1,
    column 1)`."""
    path = tmp_path / "secrets.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert read_secrets(path) == {
        "telegram_token": "123:abc",
        "ntfy_topic": "house-7fq2k",
    }


def test_a_relative_file_that_is_missing_names_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`secrets.toml: no such file` did not say where: from raspyd's working
    directory, which is not the config's folder nor the data dir."""
    monkeypatch.chdir(tmp_path)
    assert _problems('[http_client]\nsecrets_file = "secrets.toml"\n') == [
        "http_client.secrets_file: secrets.toml: no such file (looked for"
        f" {tmp_path}/secrets.toml: a relative path is from raspyd's working"
        " directory)"
    ]
    (tmp_path / "secrets.toml").write_text(GOOD, encoding="utf-8")
    assert _problems('[http_client]\nsecrets_file = "secrets.toml"\n') == []


def test_a_file_nested_too_deeply_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """tomllib recurses once a level: a thousand `[` raise RecursionError."""
    path = tmp_path / "secrets.toml"
    path.write_text(
        "a = " + "[" * (sys.getrecursionlimit() + 100) + "\n", encoding="utf-8"
    )
    deep = f"{path}: not TOML: nested too deeply"
    with pytest.raises(ConfigError) as caught:
        read_secrets(path)
    assert caught.value.problems == [deep]
    assert SecretsFile(path).load() == Loaded(str(path), problem=deep)
    configured = f'[http_client]\nsecrets_file = "{path}"\n'
    assert _problems(configured) == [f"http_client.secrets_file: {deep}"]


def test_an_integer_past_pythons_digits_is_named_with_its_line(tmp_path: Path) -> None:
    """tomllib's int() of 4301 digits raises a plain ValueError, no TOML error:
    it was said as `not TOML (ValueError)`, naming no line. At the start, at a
    request after an edit and for `raspyd --check-config` alike."""
    path = tmp_path / "secrets.toml"
    secrets = SecretsFile(path)
    path.write_text(GOOD, encoding="utf-8")
    assert secrets.load().values["ntfy_topic"] == "house-7fq2k"
    path.write_text(GOOD + "\npin = " + "7" * 4301 + "\n", encoding="utf-8")
    long = f"{path}: not TOML: an integer of over 4300 digits (at line 4)"
    with pytest.raises(ConfigError) as caught:
        read_secrets(path)
    assert caught.value.problems == [long]
    assert secrets.load() == Loaded(str(path), problem=long)  # read again
    configured = f'[http_client]\nsecrets_file = "{path}"\n'
    assert _problems(configured) == [f"http_client.secrets_file: {long}"]


def test_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A FIFO would block the reading thread until someone writes to it."""
    fifo = tmp_path / "secrets.toml"
    os.mkfifo(fifo, 0o600)
    for path in (fifo, Path(os.devnull)):
        refused = f"{path}: not a regular file (a pipe, socket or device)"
        with pytest.raises(ConfigError) as caught:
            read_secrets(path)
        assert caught.value.problems == [refused]
        assert SecretsFile(path).load() == Loaded(str(path), problem=refused)
    assert _problems(f'data_dir = "{tmp_path}"\n') == [
        f"http_client.secrets_file: {fifo}: not a regular file (a pipe, socket or "
        "device)"
    ]
    with pytest.raises(ConfigError) as caught:
        read_secrets(tmp_path)
    assert caught.value.problems == [f"{tmp_path}: a folder, not a file"]


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_is_secrets_or_a_config_error(text: str) -> None:
    try:
        found = parse_secrets(text, "s.toml")
    except ConfigError as exc:
        problems = exc.problems
    else:
        problems = []
        assert all(isinstance(value, str) for value in found.values())
    assert all(problem.startswith("s.toml: ") for problem in problems)


@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
        # DEL goes escaped in TOML, which json.dumps leaves as it is
        st.text(
            st.characters(exclude_categories=["Cs"], exclude_characters="\x7f"),
            max_size=20,
        ),
        max_size=5,
    )
)
def test_secrets_written_as_toml_read_back_as_they_were(
    secrets: dict[str, str],
) -> None:
    text = "".join(
        f"{name} = {json.dumps(value, ensure_ascii=False)}\n"
        for name, value in secrets.items()
    )
    assert parse_secrets(text, "s.toml") == secrets
