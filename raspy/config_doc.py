"""The configuration reference, generated from raspy.config: commented TOML (`raspyd
--print-config`, the shipped example raspy/defaults/raspyd.toml) and Markdown
(docs/configuration.md, `raspyd --print-config --markdown`).

It walks the Config dataclass: a field whose default is a dataclass is a section,
every other field a key. Help texts are the `#` comments kept next to each field in
raspy/config.py and its section modules (the lines right above it, and one at its
end); a section's text is its class docstring. So a section or key added there shows up here by itself.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import json
import sys
import tokenize
from collections.abc import Collection, Iterator
from typing import Any, Final

from raspy.config import Config
from raspy.config_table import SECRET_SETTINGS
from raspy.records import frozen

NO_HELP: Final = "(not described yet)"
# The shipped production example differs from the defaults in these keys.
PRODUCTION: Final[dict[str, Any]] = {"data_dir": "/var/lib/raspy", "log_format": "json"}


@frozen
class Key:
    section: str  # "" for top-level keys
    name: str
    type: str
    default: Any
    help: str

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def is_table_list(self) -> bool:
        """A list of tables (`[[section.name]]`), e.g. devices.fake: a tuple of dicts
        or of dataclasses (anything but a tuple of plain values)."""
        plain = ("tuple[str", "tuple[int", "tuple[float", "tuple[bool")
        return self.type.startswith("tuple[") and not self.type.startswith(plain)


@frozen
class Section:
    name: str
    help: str
    keys: tuple[Key, ...]


@functools.cache
def _comments(module_name: str) -> dict[int, str]:
    """Line number → comment text, for every `#` comment in a module's source."""
    source = inspect.getsource(sys.modules[module_name])
    found: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found


def _field_help(cls: type[Any]) -> dict[str, str]:
    """The comments above each field of `cls` and at its end, joined."""
    lines, first = inspect.getsourcelines(cls)
    comments = _comments(cls.__module__)
    names = {f.name for f in dataclasses.fields(cls)}
    helps: dict[str, str] = {}
    for offset, text in enumerate(lines):
        number = first + offset
        name = text.strip().split(":", 1)[0]
        if name not in names or ":" not in text:
            continue
        above: list[str] = []
        previous = number - 1
        while previous in comments and lines[previous - first].lstrip().startswith("#"):
            above.insert(0, comments[previous])
            previous -= 1
        if number in comments:
            above.append(comments[number])
        helps[name] = " ".join(above)
    return helps


def _doc(cls: type[Any]) -> str:
    doc = inspect.getdoc(cls) or ""
    own = not doc.startswith(f"{cls.__name__}(")  # dataclasses invent a signature
    return " ".join(doc.split()) if own else ""


def _keys(cls: type[Any], section: str) -> tuple[Key, ...]:
    helps = _field_help(cls)
    defaults = cls()
    return tuple(
        Key(
            section,
            f.name,
            str(f.type),
            getattr(defaults, f.name),
            helps.get(f.name, ""),
        )
        for f in dataclasses.fields(cls)
        if not dataclasses.is_dataclass(getattr(defaults, f.name))
    )


def sections() -> tuple[Section, ...]:
    """The top-level keys (section ""), then every section, in Config's order."""
    defaults = Config()
    found = [Section("", _doc(Config), _keys(Config, ""))]
    for f in dataclasses.fields(Config):
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            found.append(Section(f.name, _doc(type(value)), _keys(type(value), f.name)))
    return tuple(found)


def toml_value(value: Any) -> str:
    """A TOML literal: bools, numbers, strings, arrays and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return toml_value(dataclasses.asdict(value))
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _comment_block(text: str, width: int = 86) -> Iterator[str]:
    line = "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width:
            yield line
            line = "#"
        line += " " + word
    if line != "#":
        yield line


def render_toml(
    config: Config, header: str = "", left_out: Collection[str] = ()
) -> str:
    """`config` as commented TOML: a key equal to its default is shown commented out
    (so later defaults still apply), a changed one is set, with its default noted.
    `left_out`: sections the reader ignores (raspyd's [link]), whose defaults in
    `config` are not the file's values and must not be shown as in effect."""
    out: list[str] = [*_comment_block(header)] if header else []
    for section in sections():
        if section.name in left_out:
            continue
        current = getattr(config, section.name) if section.name else config
        if section.name:
            out += ["", *_comment_block(section.help), f"[{section.name}]"]
        tables: list[str] = []
        for key in section.keys:
            value = getattr(current, key.name)
            if key.is_table_list and value:
                tables += ["", *_comment_block(key.help or NO_HELP)]
                for item in value:
                    table = item if isinstance(item, dict) else dataclasses.asdict(item)
                    tables += [f"[[{key.dotted}]]"]
                    tables += [f"{k} = {toml_value(v)}" for k, v in table.items()]
                continue
            out += ["", *_comment_block(key.help or NO_HELP)]
            if value == key.default:
                out.append(f"# {key.name} = {toml_value(value)}")
            elif key.dotted in SECRET_SETTINGS:  # a printed config is pasted about
                out.append(f"# {key.name} = (set, not shown: a secret)")
            else:
                out.append(f"{key.name} = {toml_value(value)}")
                out.append(f"# (default: {toml_value(key.default)})")
        out += tables
    return "\n".join(out).lstrip("\n") + "\n"


def production_example() -> str:
    """raspy/defaults/raspyd.toml: what `make install-service` puts in /etc/raspy."""
    config = dataclasses.replace(Config(), **PRODUCTION)
    return render_toml(
        config,
        "raspyd configuration for a production hub (installed as /etc/raspy/raspyd.toml "
        "by `make install-service`). Every key is listed with what it does; the "
        "commented-out ones show their default. Check a change with `raspyd "
        "--check-config FILE`, apply it with `systemctl reload raspyd` (raspyd names "
        "the keys that need a restart). Generated by tools/gen_config_docs.py: edit "
        "raspy/config.py, not this file.",
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """docs/configuration.md: every section and key, its type, default and meaning."""
    out = [
        "# Configuration reference",
        "",
        "raspyd reads one TOML file (`--config FILE`, UTF-8; a byte-order mark at its",
        "start, as Windows editors write one, is skipped); command-line flags",
        "(`--data-dir`, `--port-base`, `--bind`, `--log-level`, `--log-format`,",
        "`--allow-root`) beat it (a bad value in the file is named all the same, so the",
        "file alone is valid). A relative path in a key (`data_dir`, a `*_file` or",
        "`*_dir`) is taken from raspyd's working directory, not from the config's folder",
        "(as a service, `/run/raspy`: a tmpfs emptied at every stop, so give files their",
        "absolute paths there). The file may be a pipe (`<(...)`, `/dev/stdin`, a",
        "FIFO): it is read while something comes through it, and one silent for 10 s",
        "before its writer closed it is named, as a file that cannot be read, rather",
        "than waited on for ever. Every key is optional. `raspyd --check-config FILE`",
        "lists every problem of a file (exit 2) or says it is fine (exit 0), the files",
        "and folders it names included: those an enabled part reads at start",
        "(`core.preload_dir`, the CURVE certificate and keys folder, the MQTT password",
        "and TLS files,",
        "`http.password_hash_file`) must be there and readable, as raspyd checks at",
        "start and on SIGHUP. Unlike the config, each must be a regular file: a pipe",
        "or a device there is named at once (`not a regular file`), as these are read",
        "again at each start, reload and connect, which a pipe cannot give. The check",
        "also names a problem of the secrets file of",
        "`http:` actions (valid TOML of texts), which raspyd's start only logs",
        "(`secrets_file_unusable`: docs/scenarios.md); one missing at a relative path",
        "is named with where it",
        "was looked for (`mqtt.tls_ca_file: ca.pem: no such file (looked for",
        "/run/raspy/ca.pem: …)`). An on/off key that is itself wrong",
        '(`fake_enabled = "yes"`) is named, and the check goes on as if that part',
        "were on, so that its own settings are named in the same run (raspyd does",
        "not start with it). `raspyd --print-config` prints the",
        "effective configuration as commented TOML (without `[link]`, which raspyd",
        "ignores, and without `mqtt.password`'s value, a secret: a wrong type there is",
        "named by its kind alone too). SIGHUP (`systemctl reload raspyd`)",
        "applies the `titanic` and `devices` sections at once and names, in the log,",
        "every other changed key, which waits for a restart (a `titanic` section",
        "that does not hold beside the `store` kept, as a bad file, changes nothing).",
        "",
        "A board's raspy-poller reads the same format (`raspy-poller --config FILE`):",
        "the top-level `hostname`, `log_level` and `log_format`, and `[devices]`,",
        "`[store]` and `[link]`. It reads past every other section and top-level key",
        "unchecked (raspyd's: a bad `[mqtt]` or `[http]` value in a file shared with",
        "the hub does not stop the board), as raspyd reads past `[link]`.",
        "",
        "This file is generated from `raspy/config.py` by `tools/gen_config_docs.py`",
        "(a test keeps them equal); a production example is in",
        "`raspy/defaults/raspyd.toml`.",
    ]
    for section in sections():
        title = f"`[{section.name}]`" if section.name else "Top-level keys"
        out += ["", f"## {title}", ""]
        if section.help:
            out += [section.help, ""]
        out += ["| Key | Type | Default | Meaning |", "|---|---|---|---|"]
        for key in section.keys:
            kind = "list of tables" if key.is_table_list else key.type
            out.append(
                f"| `{key.name}` | {_md_cell(kind)} | `{_md_cell(toml_value(key.default))}` "
                f"| {_md_cell(key.help or NO_HELP)} |"
            )
    return "\n".join(out) + "\n"


def undescribed() -> list[str]:
    """Dotted names of the keys without a help comment (a test wants none)."""
    return [k.dotted for s in sections() for k in s.keys if not k.help]
