"""`make hunt` draws HUNT_EXAMPLES examples in every property test, one that sets its
own count and a state machine too, and gives each the hunt's time (support/hunt.py).
A real pytest run over a small test file, its examples counted in a file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent

_CONFTEST = """
import os
from support import hunt

def pytest_collection_modifyitems(items):
    if hunt.hunting():
        hunt.raise_counts(items, 40, 120.0)
    with open(os.environ["COUNTS"], "a") as out:
        for item in items:
            marker = item.get_closest_marker("timeout")
            if marker is not None:
                out.write(f"timeout:{item.name}:{marker.args[0]:g}\\n")
"""

_TEST_FILE = """
import os
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

def _count(name):
    with open(os.environ["COUNTS"], "a") as out:
        out.write(name + "\\n")

@pytest.mark.timeout(1)
@settings(max_examples=5, database=None)
@given(st.integers())
def test_own_count(x):
    _count("own")

@settings(max_examples=500, database=None)
@given(st.integers())
def test_larger_count(x):
    _count("larger")

class Steps(RuleBasedStateMachine):
    @rule(x=st.integers())
    def step(self, x):
        _count("machine")

Steps.TestCase.settings = settings(max_examples=5, stateful_step_count=1, database=None)
test_machine = Steps.TestCase
"""


def _run(tmp_path: Path, profile: str) -> dict[str, object]:
    """Each test's examples run, and the timeout marks the run saw."""
    (tmp_path / "conftest.py").write_text(_CONFTEST)
    (tmp_path / "test_counted.py").write_text(textwrap.dedent(_TEST_FILE))
    counts = tmp_path / "counts.txt"
    counts.write_text("")
    env = {
        **os.environ,
        "PYTHONPATH": str(_TESTS),
        "HYPOTHESIS_PROFILE": profile,
        "COUNTS": str(counts),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            str(tmp_path / "test_counted.py"),
        ],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = counts.read_text().split()
    drawn: dict[str, object] = {
        name: lines.count(name) for name in ("own", "larger", "machine")
    }
    drawn["timeouts"] = sorted(line for line in lines if line.startswith("timeout:"))
    return drawn


@pytest.mark.timeout(120)
def test_the_hunt_raises_a_tests_own_count_and_a_state_machines(tmp_path: Path) -> None:
    assert _run(tmp_path, "hunt") == {
        "own": 40,
        "larger": 500,
        "machine": 40,
        "timeouts": [
            "timeout:runTest:120",
            "timeout:test_larger_count:120",
            "timeout:test_own_count:120",
        ],
    }


@pytest.mark.timeout(120)
def test_outside_the_hunt_each_test_draws_its_own_count(tmp_path: Path) -> None:
    assert _run(tmp_path, "default") == {
        "own": 5,
        "larger": 500,
        "machine": 5,
        "timeouts": ["timeout:test_own_count:1"],
    }
