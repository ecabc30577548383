"""raspy.config_files: the files and folders a config names, read as raspyd reads
them at start; one `section.key: PATH: why` line for each that is missing or bad."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import zmq.auth

from raspy import config, config_files
from raspy.web.login import hash_secret

_NOT_REGULAR = "not a regular file (a pipe, socket or device)"
_OPENS = Path(__file__).resolve().parent.parent / "support" / "config_opens.py"


def _problems(text: str) -> list[str]:
    return config_files.problems(config.load(text, "raspyd.toml"))


def test_the_defaults_and_the_shipped_example_name_no_file() -> None:
    example = Path(config.__file__).parent / "defaults" / "raspyd.toml"
    assert config_files.problems(config.Config()) == []
    assert _problems(example.read_text(encoding="utf-8")) == []


def test_a_preload_dir_that_is_missing_or_a_file_is_named(tmp_path: Path) -> None:
    missing, plain = tmp_path / "missing", tmp_path / "plain"
    plain.write_text("x", encoding="utf-8")
    assert _problems(f'[core]\npreload_dir = "{missing}"\n') == [
        f"core.preload_dir: {missing}: no such folder"
    ]
    assert _problems(f'[core]\npreload_dir = "{plain}"\n') == [
        f"core.preload_dir: {plain}: not a folder"
    ]
    assert _problems(f'[core]\npreload_dir = "{tmp_path}"\n') == []


def test_a_preload_dir_of_a_disabled_core_is_not_looked_at(tmp_path: Path) -> None:
    text = f'[core]\nenabled = false\npreload_dir = "{tmp_path / "missing"}"\n'
    assert _problems(text) == []


def test_an_mqtt_password_file_is_read_only_when_the_bridge_is_enabled(
    tmp_path: Path,
) -> None:
    missing, latin1 = tmp_path / "missing", tmp_path / "latin1"
    latin1.write_bytes(b"caf\xe9\n")
    assert _problems(f'[mqtt]\npassword_file = "{missing}"\n') == []
    assert _problems(
        f'[mqtt]\nenabled = true\npassword_file = "{missing}"\n'
        f'[core]\npreload_dir = "{tmp_path}"\n'
    ) == [f"mqtt.password_file: {missing}: no such file"]
    assert _problems(f'[mqtt]\nenabled = true\npassword_file = "{tmp_path}"\n') == [
        f"mqtt.password_file: {tmp_path}: a folder, not a file"
    ]
    assert _problems(f'[mqtt]\nenabled = true\npassword_file = "{latin1}"\n') == [
        f"mqtt.password_file: {latin1}: not UTF-8 text"
    ]


def _opened(tmp_path: Path, text: str, watched: Path) -> tuple[list[str], int]:
    """The problems of a config, and how often a child that checked it opened
    `watched` (support/config_opens.py: its audit hook stays out of this worker)."""
    toml = tmp_path / "raspyd.toml"
    toml.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(_OPENS), str(toml), str(watched)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found, opens = json.loads(done.stdout.splitlines()[-1])
    return found, opens


def test_an_mqtt_password_file_is_opened_once(tmp_path: Path) -> None:
    """Its kind is checked on the file opened, then read from it: a second open
    (by its name) could read another file swapped in meanwhile."""
    good, latin1 = tmp_path / "password", tmp_path / "latin1"
    good.write_text("s3cret\n", encoding="utf-8")
    latin1.write_bytes(b"caf\xe9\n")
    on = "[mqtt]\nenabled = true\npassword_file = "
    assert _opened(tmp_path, f'{on}"{good}"\n', good) == ([], 1)
    assert _opened(tmp_path, f'{on}"{latin1}"\n', latin1) == (
        [f"mqtt.password_file: {latin1}: not UTF-8 text"],
        1,
    )


def test_mqtt_tls_files_are_named_when_missing_or_not_pem(tmp_path: Path) -> None:
    missing, garbage = tmp_path / "missing.pem", tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n", encoding="utf-8")
    text = (
        f'[mqtt]\nenabled = true\ntls = true\ntls_ca_file = "{garbage}"\n'
        f'tls_cert_file = "{garbage}"\ntls_key_file = "{missing}"\n'
    )
    assert _problems(text) == [f"mqtt.tls_key_file: {missing}: no such file"]
    found = _problems(text.replace(str(missing), str(garbage)))
    assert [line.split(": ")[:3] for line in found] == [
        ["mqtt.tls_ca_file", str(garbage), "not a CA certificate"],
        [
            "mqtt.tls_cert_file",
            str(garbage),
            "not a certificate with its unencrypted key",
        ],
    ]
    assert _problems(text.replace("tls = true", "tls = false")) == []


def test_curve_files_are_loaded_as_the_start_loads_them(tmp_path: Path) -> None:
    public_file, secret_file = zmq.auth.create_certificates(tmp_path, "server")
    clients = tmp_path / "clients"
    clients.mkdir()
    zmq.auth.create_certificates(clients, "client")
    good = (
        f'[security]\ncurve_secret_key_file = "{secret_file}"\n'
        f'authorized_keys_dir = "{clients}"\n'
    )
    assert _problems(good) == []
    missing = tmp_path / "missing"
    assert _problems(
        good.replace(str(secret_file), str(missing)).replace(str(clients), str(missing))
    ) == [
        f"security.curve_secret_key_file: {missing}: no such file",
        f"security.authorized_keys_dir: {missing}: no such folder",
    ]
    assert _problems(good.replace(str(secret_file), str(public_file))) == [
        f"security.curve_secret_key_file: {public_file}: no secret key in this "
        "certificate (a .key_secret file is needed)"
    ]


def test_a_web_password_hash_file_is_read_as_a_login_reads_it(tmp_path: Path) -> None:
    good, bad, missing = tmp_path / "good", tmp_path / "bad", tmp_path / "missing"
    good.write_text(hash_secret("secret words").line() + "\n", encoding="utf-8")
    bad.write_text("plain text\n", encoding="utf-8")
    http = "[http]\nenabled = true\npassword_hash_file = "
    assert _problems(f'{http}"{good}"\n') == []
    assert _problems(f'{http}"{missing}"\n') == [
        f"http.password_hash_file: {missing}: no such file "
        "(make it with raspy web-password FILE)"
    ]
    assert _problems(f'{http}"{bad}"\n') == [
        f"http.password_hash_file: {bad}: expected scrypt$N$r$p$salt$hash, "
        'got "plain text\\n"'
    ]
    assert _problems(f'{http}"{tmp_path}"\n') == [
        f"http.password_hash_file: {tmp_path}: a folder, not a file"
    ]


def test_a_key_line_without_equals_is_named_not_raised(tmp_path: Path) -> None:
    """pyzmq's reader raised IndexError for `public-key` without `=`: the check
    ended in a traceback instead of naming the file."""
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "client.key").write_text("curve\n    public-key\n")
    broken = tmp_path / "broken.key_secret"
    broken.write_text("curve\n    public-key\n    secret-key\n")
    assert _problems(
        f'[security]\ncurve_secret_key_file = "{broken}"\n'
        f'authorized_keys_dir = "{clients}"\n'
    ) == [
        f"security.curve_secret_key_file: {broken}: cannot load CURVE certificate: "
        "a key line without '='",
        f"security.authorized_keys_dir: {clients}: cannot load client keys: "
        "a key line without '='",
    ]


def test_a_pipe_or_device_named_for_a_file_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO nobody writes kept --check-config and the start in open() for ever.
    These files are read again (each connect, each reload), which a pipe cannot
    give: refused at once, as the secrets file is, a device unopened."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    http = "[http]\nenabled = true\npassword_hash_file = "
    texts = {
        "mqtt.password_file": f'[mqtt]\nenabled = true\npassword_file = "{fifo}"\n',
        "mqtt.tls_ca_file": f'[mqtt]\nenabled = true\ntls = true\ntls_ca_file = "{fifo}"\n',
        "security.curve_secret_key_file": (
            f'[security]\ncurve_secret_key_file = "{fifo}"\n'
            f'authorized_keys_dir = "{tmp_path}"\n'
        ),
        "http.password_hash_file": f'{http}"{fifo}"\n',
    }
    for key, text in texts.items():
        found: list[list[str]] = []
        worker = threading.Thread(
            target=lambda t=text, f=found: f.append(_problems(t)), daemon=True
        )
        worker.start()
        worker.join(timeout=5.0)
        if worker.is_alive():  # the old hang: a writer's open lets it go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        assert found == [[f"{key}: {fifo}: {_NOT_REGULAR}"]], key
    assert _problems(f'{http}"/dev/zero"\n') == [
        f"http.password_hash_file: /dev/zero: {_NOT_REGULAR}"
    ]
