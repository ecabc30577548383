"""raspyd's configuration from its file and its flags (the flags win), and
`--check-config`: every problem of a file at once, each on its own line."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from raspy import config as config_mod
from raspy.cli import EXIT_USAGE
from raspy.errors import ConfigError


def check_config_file(args: argparse.Namespace) -> int:
    """`--check-config FILE`: every problem on its own line (2), or `FILE: ok` (0)."""
    from raspy import config_files
    from raspy.actors.config_check import check_config

    args.config = args.check_config
    try:
        text = config_mod.read_file(args.config)
        cfg, problems = config_mod.best_effort(
            text, args.config, unused=config_mod.RASPYD_UNUSED, **overrides(args)
        )
        if cfg is not None:  # what is valid, checked further: every problem at once
            try:
                check_config(cfg)
            except ConfigError as exc:  # the config as the flags left it
                named = flag_named(exc.problems, args.config, given_flags(args))
                problems += [p for p in named if p not in problems]
            problems += config_files.secrets_problems(cfg)  # the start only logs them
    except ConfigError as exc:
        problems = exc.problems
    if problems:
        return config_failed(problems, args.config)
    print(f"{args.config}: ok")
    return 0


def config_failed(problems: list[str], source: str) -> int:
    """Each problem on its own line, naming the file where it does not yet."""
    for problem in problems:
        where = "" if source in problem else f"{source}: "
        print(f"raspyd: {where}{problem}", file=sys.stderr)
    return EXIT_USAGE


def flag_named(problems: list[str], source: str, flags: dict[str, str]) -> list[str]:
    """The parts' problems of a loaded config (whose values are the flags' where
    flags were given), a key a flag set said with the flag as typed, lest the user
    look for its value in the file: `FILE with --port-base 65532: network.port_base:
    …`. Not for the file's own problems: a file's bad value is named before the
    flag replaces it (config.from_mapping)."""
    named = []
    for problem in problems:
        flag = flags.get(problem.partition(":")[0])
        named.append(problem if flag is None else f"{source} with {flag}: {problem}")
    return named


def given_flags(args: argparse.Namespace) -> dict[str, str]:
    """The config keys that flags set, each with the flag as typed."""
    return {
        key: f"--{dest.replace('_', '-')} {getattr(args, dest)}"
        for dest, key in _FLAG_KEYS.items()
        if getattr(args, dest) is not None
    }


def start_config(args: argparse.Namespace, source: str) -> config_mod.Config | int:
    """The config a start runs on, file then flags, checked by its parts; or the
    exit status once its problems were said."""
    from raspy.actors.config_check import check_config

    try:
        cfg = load_config(args)
    except ConfigError as exc:
        return config_failed(exc.problems, source)
    try:
        check_config(cfg)
    except ConfigError as exc:  # the config as the flags left it
        named = flag_named(exc.problems, source, given_flags(args))
        return config_failed(named, source)
    return cfg


def reload_problems(
    running: config_mod.Config, new: config_mod.Config, source: str
) -> list[str]:
    """A reload applies the live sections ([titanic], [devices]) and keeps the rest
    until a restart: what the new file sets must hold beside what is kept (a larger
    titanic.max_body_bytes with a larger store.max_value_bytes, the store's kept)."""
    from raspy.config_checks import section_problems
    from raspy.cores.supervision import plan_reload

    kept = plan_reload(running, new, frozenset()).config
    sections = {
        f.name: getattr(kept, f.name)
        for f in dataclasses.fields(kept)
        if dataclasses.is_dataclass(getattr(kept, f.name))
    }
    return section_problems(
        sections, f"{source} beside the settings kept until a restart"
    )


def load_config(args: argparse.Namespace) -> config_mod.Config:
    """File (if any) then flags, raspy-poller's [link] left out; raises
    ConfigError."""
    text, source = "", "<defaults>"
    if args.config:
        source = args.config
        text = config_mod.read_file(args.config)
    return config_mod.load(
        text, source, unused=config_mod.RASPYD_UNUSED, **overrides(args)
    )


# raspyd's flags that replace a config value: the flag's dest and the key it sets
_FLAG_KEYS = {
    "data_dir": "data_dir",
    "port_base": "network.port_base",
    "bind": "network.bind",
    "log_format": "log_format",
    "log_level": "log_level",
}


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that replace config values (None: not given)."""
    given = {
        key.replace(".", "__"): getattr(args, dest) for dest, key in _FLAG_KEYS.items()
    }
    return given | {"allow_root": True if args.allow_root else None}
