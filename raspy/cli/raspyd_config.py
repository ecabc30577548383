"""raspyd's configuration from its file and its flags (the flags win), and
`--check-config`: every problem of a file at once, each on its own line."""

from __future__ import annotations

import argparse
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
        cfg, problems = config_mod.best_effort(text, args.config, **overrides(args))
        if cfg is not None:  # what is valid, checked further: every problem at once
            try:
                check_config(cfg)
            except ConfigError as exc:
                problems += [p for p in exc.problems if p not in problems]
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


def load_config(args: argparse.Namespace) -> config_mod.Config:
    """File (if any) then flags; raises ConfigError."""
    text, source = "", "<defaults>"
    if args.config:
        source = args.config
        text = config_mod.read_file(args.config)
    return config_mod.load(text, source, **overrides(args))


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that replace config values (None: not given)."""
    return {
        "data_dir": args.data_dir,
        "network__port_base": args.port_base,
        "network__bind": args.bind,
        "log_format": args.log_format,
        "log_level": args.log_level,
        "allow_root": True if args.allow_root else None,
    }
