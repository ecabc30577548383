"""raspyd's default port base, for the tools' defaults too: apart from
raspy.config_messaging, whose dataclasses a tool would pay for at every start."""

from __future__ import annotations

from typing import Final

DEFAULT_PORT_BASE: Final = 5514
