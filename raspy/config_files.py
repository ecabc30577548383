"""The files and folders a Config names, read as raspyd reads them when it starts.

raspy.config.load() never touches the file system; this is where a config meets it.
`raspyd --check-config`, the start and a SIGHUP reload all ask here, so a file that
checks fine starts, and one that would fail or quietly do less is named first. It only
reads: it never creates or repairs anything, and never logs.

Left out on purpose: the data dir (raspyd makes it, and the store says what is wrong
with it), and the device buses under /sys (they come and go with the hardware and
its overlays; the device services report them as they poll).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from raspy.config import Config, MqttConfig, SecurityConfig
from raspy.errors import ConfigError, looked_for
from raspy.secrets_file import open_regular, read_secrets, secrets_path


def problems(config: Config) -> list[str]:
    """One `section.key: PATH: why` line per file or folder an enabled part would
    miss at start; empty when all of them can be read."""
    found: list[str] = []
    if config.core.enabled and config.core.preload_dir:
        # a missing folder would import no scenario, without a word
        found += _folder("core.preload_dir", config.core.preload_dir)
    if config.security.enabled:
        found += _curve(config.security)
    if config.mqtt.enabled:
        found += _mqtt(config.mqtt)
    if config.http.enabled and config.http.password_hash_file:
        found += _password_hash(config.http.password_hash_file)
    return found


def secrets_problems(config: Config) -> list[str]:
    """The secrets file's problems (`http_client.secrets_file: PATH: why`). Not among
    problems(): `raspyd --check-config` names them, but the start only logs them.
    The file is edited while raspyd runs (an edit counts at the next request), and
    a typo there fails the `http:` actions that name a secret, each saying why; it
    must not keep the whole hub, its heating and its lights, from the next boot."""
    return _secrets(config) if config.http_client.enabled else []


def _why(exc: OSError, path: str, *, folder: bool) -> str:
    """The reason in words, without Python's repr of the path; a relative `path`
    that is not there names where it was looked for."""
    if isinstance(exc, FileNotFoundError):
        return ("no such folder" if folder else "no such file") + looked_for(path)
    if isinstance(exc, NotADirectoryError):
        return "not a folder"
    return f"cannot read it: {(exc.strerror or str(exc)).lower()}"


def _folder(key: str, path: str) -> list[str]:
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        return [f"{key}: {path}: {_why(exc, path, folder=True)}"]
    return []


def _file(key: str, path: str, *, text: bool = False) -> list[str]:
    """Opened without blocking, and only if it is a regular file: a pipe (a FIFO no
    one writes hung the check and the start) gives its bytes once, but these files
    are read again at each start, reload and connect; a device is not opened.
    `text`: also read, as UTF-8, from the file opened (not opened again by its
    name, which may be another file by then)."""
    try:
        with open_regular(path) as opened:
            if text:
                opened.read().decode("utf-8")
    except OSError as exc:
        return [f"{key}: {path}: {_why(exc, path, folder=False)}"]
    except ConfigError as exc:  # "<path>: why"
        return [f"{key}: {problem}" for problem in exc.problems]
    except UnicodeDecodeError:
        return [f"{key}: {path}: not UTF-8 text"]
    return []


def _curve(security: SecurityConfig) -> list[str]:
    """The server certificate and the allowed clients' folder, loaded as
    raspy.transport.curve.start_curve_server loads them."""
    # with [security] only: zmq.auth and its thread, which a hub without CURVE skips
    import zmq.auth

    from raspy.transport.curve import (
        CERTIFICATE_ERRORS,
        certificate_problem,
        load_server_keys,
    )

    key = "security.curve_secret_key_file"
    found = _file(key, security.curve_secret_key_file)
    if not found:
        try:
            load_server_keys(security)
        except ConfigError as exc:
            found += [f"{key}: {problem}" for problem in exc.problems]
    keys_dir = "security.authorized_keys_dir"
    # unset: the config's own check says so (both set or both empty); an empty path
    # is no folder to look for (it was said as `: no such folder`)
    if not security.authorized_keys_dir:
        return found
    folder = _folder(keys_dir, security.authorized_keys_dir)
    if not folder:
        try:
            zmq.auth.load_certificates(security.authorized_keys_dir)
        except CERTIFICATE_ERRORS as exc:
            folder = [
                f"{keys_dir}: {security.authorized_keys_dir}: "
                f"cannot load client keys: {certificate_problem(exc)}"
            ]
    return found + folder


def _mqtt(mqtt: MqttConfig) -> list[str]:
    found: list[str] = []
    if mqtt.password_file:
        found = _file("mqtt.password_file", mqtt.password_file, text=True)
    if mqtt.tls:
        found += _tls(mqtt)
    return found


def _no_password() -> bytes:
    """An encrypted client key: refused here, as raspyd (no terminal) cannot ask."""
    return b""


def _tls(mqtt: MqttConfig) -> list[str]:
    """The TLS files, loaded the way paho's tls_set() loads them when the bridge
    connects (there a bad one ends the bridge, again at each restart)."""
    named = {
        "mqtt.tls_ca_file": mqtt.tls_ca_file,
        "mqtt.tls_cert_file": mqtt.tls_cert_file,
        "mqtt.tls_key_file": mqtt.tls_key_file,
    }
    found = [p for key, path in named.items() if path for p in _file(key, path)]
    if found:
        return found
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if mqtt.tls_ca_file:
        try:
            context.load_verify_locations(mqtt.tls_ca_file)
        except (OSError, ssl.SSLError) as exc:
            found.append(
                f"mqtt.tls_ca_file: {mqtt.tls_ca_file}: not a CA certificate: {exc}"
            )
    if mqtt.tls_cert_file:
        try:
            context.load_cert_chain(
                mqtt.tls_cert_file, mqtt.tls_key_file or None, password=_no_password
            )
        except (OSError, ssl.SSLError) as exc:
            found.append(
                f"mqtt.tls_cert_file: {mqtt.tls_cert_file}: not a certificate with "
                f"its unencrypted key: {exc}"
            )
    return found


def _secrets(config: Config) -> list[str]:
    """The secrets file, read as an `http:` action reads it: one named in the
    config must be there; the data dir's may be missing (no secrets)."""
    key = "http_client.secrets_file"
    configured = config.http_client.secrets_file
    path = secrets_path(config.data_dir, configured)
    if not configured and not path.exists():
        return []
    try:
        read_secrets(path)
    except ConfigError as exc:  # "<path>: why"
        return [f"{key}: {problem}" for problem in exc.problems]
    return []


def _password_hash(path: str) -> list[str]:
    """The web password's hash, read as a login reads it (a bad file would refuse
    every password login)."""
    from raspy.web.login_files import read_hash  # the web face's: only if used

    key = "http.password_hash_file"
    if not Path(path).exists():
        return [
            f"{key}: {path}: no such file{looked_for(path)} (make it with raspy "
            "web-password FILE)"
        ]
    found = _file(key, path)
    if not found:
        try:
            read_hash(Path(path), key)
        except ConfigError as exc:  # "<key> <path>: why"
            found = [f"{key}: {p.removeprefix(key + ' ')}" for p in exc.problems]
    return found
