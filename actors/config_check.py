"""What raspyd checks in its configuration before anything starts, beyond what
raspy.config.load checks: the files and folders it names, the device services'
configs and the web face's login. Kept apart from the supervisor, which imports
every part and core of raspyd: `raspyd --check-config`, and a start refused for its
config, its data dir or its ports, load only what they need (the supervisor's
imports were most of raspyd's start-up CPU, several seconds on a Pi 3)."""

from __future__ import annotations

from raspy import config_files, names
from raspy.config import Config
from raspy.devices import registries
from raspy.errors import ConfigError


def check_config(config: Config) -> None:
    """What load() cannot check, before anything starts: the files and folders the
    config names (raspy.config_files), and what only the services can check (device
    configs, the web face's login). `raspyd --check-config`, the start and a SIGHUP
    reload all call this, so they agree; raises one ConfigError naming every problem."""
    problems = config_files.problems(config)
    try:
        registries.check_config(names.short_hostname(config.hostname), config.devices)
    except ConfigError as exc:
        problems += exc.problems
    if config.http.enabled and not any(p.startswith("http.") for p in problems):
        # the web face (starlette, uvicorn) only when used; it reads the login files
        from raspy.actors.web import check_config as check_web_config

        try:
            check_web_config(config)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
