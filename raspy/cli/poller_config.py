"""raspy-poller's command line and what it gives: the options (`build_parser`),
and the config file, the device register of the --service and the hostname
(`load_config`), each problem raised for raspy.cli.poller to say in one line.

Parsing (`--help`, `--version`, a usage error) loads neither raspyd's config reader
nor ZeroMQ: they are imported by `load_config`, each board process paying only
for what it uses (a Pi Zero takes seconds over them)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

from raspy.cli import version_line
from raspy.cli.arguments import (
    add_curve_options,
    data_dir_argument,
    hostname_argument,
    path_argument,
)
from raspy.cli.endpoints import port_base_argument
from raspy.cli.usage_parser import UsageParser

if TYPE_CHECKING:
    from raspy import config as config_mod
    from raspy.devices.registry import Registry

# raspy.devices.registries' ONEWIRE and FAKE (test_cli_imports checks they agree):
# that module imports raspyd's config reader
SERVICES: Final = ("onewire", "fake")


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="raspy-poller",
        description="Run a device service on this host for a raspyd hub.",
    )
    parser.add_argument(
        "--connect",
        required=True,
        type=port_base_argument,
        help="the hub, tcp://HOST:PORT-BASE",
    )
    parser.add_argument("--service", required=True, choices=SERVICES)
    parser.add_argument(
        "--config",
        type=path_argument,
        help="TOML configuration file: its [devices], [store] and [link] "
        "(raspyd's sections are read past)",
    )
    parser.add_argument(
        "--data-dir",
        type=data_dir_argument,
        help="this board's store (created 0700): device settings changed over MDP "
        "last across restarts",
    )
    add_curve_options(parser, owner="this poller's")
    parser.add_argument(
        "--hostname",
        type=hostname_argument,
        help="the <hostname> of service and device names",
    )
    parser.add_argument("--log-format", choices=("console", "json"))
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    parser.add_argument(
        "--version", action="version", version=version_line("raspy-poller")
    )
    return parser


def load_config(args: argparse.Namespace) -> tuple[config_mod.Config, Registry, str]:
    """Config, register and hostname; raises ConfigError or ValueError."""
    from raspy import config as config_mod

    text, source = "", "<defaults>"
    if args.config:
        source = args.config
        text = config_mod.read_file(args.config)
    cfg = config_mod.load(
        text,
        source,
        unused=config_mod.POLLER_UNUSED,  # raspyd's: not this board's to check
        hostname=args.hostname,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    from raspy import names
    from raspy.devices import registries
    from raspy.errors import ConfigError
    from raspy.protocol import clone

    clone.Endpoints.parse(args.connect)  # ValueError unless tcp://HOST:PORT-BASE
    hostname = names.short_hostname(cfg.hostname)
    build = (
        registries.fake_registry
        if args.service == registries.FAKE
        else registries.onewire_registry
    )
    try:
        registry = build(hostname, cfg.devices)
    except ConfigError as exc:  # named by key: with the file, as every other one
        raise ConfigError(
            [f"{source}: {problem}" for problem in exc.problems]
        ) from None
    # last: it loads ZeroMQ, which a refused device need not
    from raspy.transport.sockets import check_endpoint

    check_endpoint(args.connect)  # what ZeroMQ refuses (`tcp://-:5514`)
    return cfg, registry, hostname
