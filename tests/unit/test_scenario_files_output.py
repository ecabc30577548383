"""`raspy scenario export` to a stdout the caller closed (`>&-`): Python leaves
sys.stdout None, and the export ended in exit 70, "internal error"."""

from __future__ import annotations

import sys

import pytest

from raspy.cli.scenario_files import Failure, write_output


def test_a_closed_stdout_is_a_usage_error_naming_the_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(Failure) as caught:
        write_output(None, b"name: x\n")
    assert caught.value.status == 2
    assert caught.value.lines == (
        "stdout is closed: the export has nowhere to go; name a FILE with -o",
    )
