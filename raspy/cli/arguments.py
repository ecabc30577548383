"""argparse types shared by the command-line tools: a bad value is one usage line."""

from __future__ import annotations

import argparse

from raspy.errors import shown


def seconds_argument(text: str) -> float:
    """A duration in seconds, > 0 (e.g. --timeout)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds, got {shown(text)}"
        ) from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {shown(text)}")
    return seconds
