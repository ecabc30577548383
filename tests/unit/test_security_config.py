"""[security] of the config and loading the server's CURVE certificate
(docs/architecture.md "Security model", docs/protocols.md §8.2)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import zmq.auth
from hypothesis import example, given
from hypothesis import strategies as st

from raspy import config
from raspy.cli import raspyd
from raspy.errors import ConfigError
from raspy.transport.curve import load_certificate_keys, load_server_keys


def test_security_is_off_by_default() -> None:
    loaded = config.load("")
    assert loaded.security == config.SecurityConfig()
    assert not loaded.security.enabled


def test_both_security_keys_set_turn_curve_on() -> None:
    text = '[security]\ncurve_secret_key_file = "s.key_secret"\nauthorized_keys_dir = "k"\n'
    loaded = config.load(text, "raspy.toml")
    assert loaded.security == config.SecurityConfig("s.key_secret", "k")
    assert loaded.security.enabled


@pytest.mark.parametrize(
    "line",
    ['curve_secret_key_file = "s.key_secret"', 'authorized_keys_dir = "k"'],
)
def test_only_one_security_key_set_is_refused_naming_both_keys(line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(f"[security]\n{line}\n", "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: security.curve_secret_key_file and "
        "security.authorized_keys_dir: expected both set or both empty"
    ]


def test_check_config_names_a_missing_keys_dir_once_not_as_an_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With only the secret key set, `--check-config` also said
    `security.authorized_keys_dir: : no such folder (looked for <cwd>...)`."""
    _, secret_file = zmq.auth.create_certificates(tmp_path, "server")
    path = tmp_path / "raspyd.toml"
    path.write_text(
        f'[security]\ncurve_secret_key_file = "{secret_file}"\n', encoding="utf-8"
    )
    assert raspyd.main(["--check-config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"raspyd: {path}: security.curve_secret_key_file and "
        "security.authorized_keys_dir: expected both set or both empty"
    ]


def test_an_unknown_security_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"security\.curve_public: unknown setting"):
        config.load('[security]\ncurve_public = "x"\n', "raspy.toml")


def test_the_server_keys_load_from_a_secret_certificate(tmp_path: Path) -> None:
    public, secret_file = zmq.auth.create_certificates(tmp_path, "hub")
    keys = load_server_keys(config.SecurityConfig(secret_file, str(tmp_path)))
    assert keys.public_key == zmq.auth.load_certificate(public)[0]
    assert keys.server_key is None
    assert zmq.curve_public(keys.secret_key) == keys.public_key


def test_a_public_only_certificate_is_refused_naming_the_file(tmp_path: Path) -> None:
    public, _ = zmq.auth.create_certificates(tmp_path, "hub")
    with pytest.raises(ConfigError, match="no secret key") as caught:
        load_server_keys(config.SecurityConfig(public, str(tmp_path)))
    assert public in str(caught.value)


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_a_missing_or_bad_certificate_is_refused_naming_the_file(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "hub.key_secret"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_server_keys(config.SecurityConfig(str(path), str(tmp_path)))
    assert str(path) in str(caught.value)


_CERT_LINES = st.lists(
    st.sampled_from(
        [
            b"public-key",
            b"secret-key",
            b'public-key = "' + b"a" * 40 + b'"',
            b'secret-key = "' + b"b" * 40 + b'"',
            b"public-key = ",
            b"#   public-key = x",
            b"metadata",
            b"\xff\xfe",
        ]
    )
    | st.binary(max_size=50),
    max_size=5,
).map(b"\n".join)


@given(_CERT_LINES, st.booleans())
@example(b"public-key\n", True)
def test_any_certificate_file_gives_keys_or_a_config_error(
    content: bytes, need_secret: bool
) -> None:
    """A certificate file anyone may have edited: its keys, or a ConfigError naming
    the file; never another exception out of raspyd's start or raspy's commands."""
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "hub.key_secret")
        Path(path).write_bytes(content)
        try:
            public, secret = load_certificate_keys(path, need_secret=need_secret)
        except ConfigError as exc:
            refusal = str(exc)
        else:
            refusal = ""
            assert len(public) == 40
            assert secret is not None or not need_secret
    assert not refusal or path in refusal


@pytest.mark.parametrize("need_secret", [True, False])
def test_a_certificate_file_that_is_not_there_is_said_so(
    tmp_path: Path, need_secret: bool
) -> None:
    """`raspy-poller --server-key hub.key` with no such file said `cannot load CURVE
    certificate: Invalid certificate file: hub.key` (pyzmq's words), which reads as
    a file that is there but damaged."""
    path = str(tmp_path / "hub.key")
    with pytest.raises(ConfigError) as caught:
        load_certificate_keys(path, need_secret=need_secret)
    assert caught.value.problems == [f"{path}: no such file"]
