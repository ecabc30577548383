"""The example scenarios `make run` preloads (issue 11: "make run starts with three
example scenarios on the simulated devices") load, and `raspy scenario validate`
accepts them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import raspy
from raspy import config
from raspy.cli.raspy import main
from raspy.devices.simulated import SimulatedFactory
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.model import DeviceAction, KvTrigger

DEFAULTS = Path(raspy.__file__).parent / "defaults"
EXAMPLES = sorted((DEFAULTS / "scenarios").glob("*.yaml"))
RUN_TOML = tomllib.loads((DEFAULTS / "run.toml").read_text(encoding="utf-8"))
SIMULATED = {entry["name"]: entry["oid"] for entry in RUN_TOML["devices"]["fake"]}


def test_run_toml_preloads_the_examples_folder_and_places_the_sun() -> None:
    core = config.load((DEFAULTS / "run.toml").read_text(encoding="utf-8")).core
    assert (core.enabled, core.has_location, core.timezone != "") == (True, True, True)
    # make run starts raspyd in the repository's root, where raspy/ is
    assert DEFAULTS.parent.parent / core.preload_dir == DEFAULTS / "scenarios"
    assert [path.stem for path in EXAMPLES] == [
        "frost-lamp",
        "hall-sunset",
        "weekday-wakeup",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_loads_under_its_file_name(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert validate_scenario(text, path.name) == []
    scenario = load_scenario(text, path.name)
    assert (scenario.name, scenario.source_text, scenario.enabled) == (
        path.stem,
        text,
        True,
    )


def _device_actions(actions: tuple[object, ...]) -> list[DeviceAction]:
    found: list[DeviceAction] = []
    for action in actions:
        if isinstance(action, DeviceAction):
            found.append(action)
        for nested in ("actions", "otherwise"):
            found += _device_actions(getattr(action, nested, ()))
        for branch in getattr(action, "branches", ()):
            found += _device_actions(branch.actions)
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_examples_command_simulated_devices_of_run_toml(path: Path) -> None:
    scenario = load_scenario(path.read_text(encoding="utf-8"), path.name)
    for action in _device_actions(scenario.actions):
        host, service, name = action.device.split(".")
        assert (host, service, SIMULATED.get(name) in ("switch", "dimmer")) == (
            "{host}",
            "fake",
            True,
        )


def test_raspy_scenario_validate_accepts_every_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scenario", "validate", *map(str, EXAMPLES)]) == 0
    assert capsys.readouterr() == (
        "".join(f"{path}: ok ({path.stem})\n" for path in EXAMPLES),
        "",
    )


# an indented code block (four spaces) that is a scenario: its first line is `name:`
_INDENTED_SCENARIO = re.compile(
    r"(?:^|\n\n)((?: {4}name: .*\n)(?: {4}.*\n|\n(?= {4}))*)"
)


def _yaml_blocks(path: Path) -> list[str]:
    """The fenced YAML blocks of a page, then the scenarios written as indented
    blocks (the README's hall-light), unindented."""
    text = path.read_text(encoding="utf-8")
    fenced = re.findall(r"```yaml\n(.*?)```", text, re.S)
    indented = [
        "".join(line[4:] + "\n" for line in block.splitlines())
        for block in _INDENTED_SCENARIO.findall(text)
    ]
    return fenced + indented


@pytest.mark.parametrize("doc", ["docs/scenarios.md", "README.md"])
def test_every_yaml_example_in_the_docs_loads(doc: str) -> None:
    """The documents the docs show are refused by nothing: the docs cannot rot."""
    blocks = _yaml_blocks(DEFAULTS.parent.parent / doc)
    assert blocks
    assert {
        f"{doc} block {index}": validate_scenario(block, doc)
        for index, block in enumerate(blocks)
    } == {f"{doc} block {index}": [] for index in range(len(blocks))}


def test_the_house_keys_the_examples_read_are_controls_of_run_toml() -> None:
    """The house mode an example reads is set on the web face of `make run`, and
    written at its start: the example acts as its comment says on a fresh hub."""
    read = {
        key
        for path in EXAMPLES
        for key in re.findall(r"kv\('(/house/[^']+)'\)", path.read_text("utf-8"))
    }
    controls = {table["key"]: table for table in RUN_TOML["controls"]}
    assert read == {"/house/mode"}
    assert read <= set(controls)
    assert controls["/house/mode"]["initial"] == "home"


def _simulated_range(name: str) -> tuple[float, float] | None:
    """The lowest and highest value of `make run`'s simulated sensor `name` (its
    kind's defaults where run.toml gives none); None when run.toml has no such
    sensor (a recipe's device the reader adds or writes by hand)."""
    table = next((t for t in RUN_TOML["devices"]["fake"] if t["name"] == name), None)
    if table is None:
        return None
    defaults = {
        f.name: f.default for f in SimulatedFactory().fields(table["oid"]) or ()
    }
    if "min" not in defaults:
        return None
    low, high = table.get("min", defaults["min"]), table.get("max", defaults["max"])
    assert isinstance(low, float | int)
    assert isinstance(high, float | int)
    return float(low), float(high)


def _documents() -> list[tuple[str, str]]:
    """(where, text) of every scenario a reader tries on `make run`: the examples it
    preloads and the YAML of the README and the cookbook."""
    found = [(path.name, path.read_text(encoding="utf-8")) for path in EXAMPLES]
    for doc in ("README.md", "docs/cookbook.md"):
        blocks = _yaml_blocks(DEFAULTS.parent.parent / doc)
        found += [(f"{doc} block {index}", text) for index, text in enumerate(blocks)]
    return found


_SIMULATED_KEY = re.compile(r"/device/\{host\}\.fake\.([^./]+)/value")


def test_every_bound_a_scenario_sets_on_a_simulated_sensor_is_crossed() -> None:
    """A trigger's `above:`/`below:` on a sensor of `make run` lies inside the range
    it sweeps, or the scenario never fires there: the cookbook's bathroom fan waited
    for 70 % on a humidity that went from 30 to 70 and never above."""
    checked, outside = 0, []
    for where, text in _documents():
        scenario = load_scenario(text, where)
        for trigger in scenario.triggers:
            match = _SIMULATED_KEY.fullmatch(getattr(trigger, "pattern", ""))
            if not isinstance(trigger, KvTrigger) or match is None:
                continue
            sweep = _simulated_range(match[1])
            for bound in (trigger.above, trigger.below):
                if sweep is None or bound is None:
                    continue
                checked += 1
                if not sweep[0] < bound < sweep[1]:
                    outside.append(f"{where}: {match[1]} {bound} outside {sweep}")
    assert outside == []
    assert checked >= 4  # the bathroom's two, frost-lamp's and cold-living's


def test_an_example_that_acts_on_its_own_has_its_devices_to_itself() -> None:
    """Two scenarios commanding one device take turns, the last command wins: the
    shipped frost-lamp switched `lamp` every minute or two, the lamp of the README's
    first scenario and of most recipes, which then seemed not to work. An example
    triggered by a simulated sensor (it acts within minutes of `make run`)
    commands devices no other scenario a reader tries there commands."""
    documents = [(where, load_scenario(text, where)) for where, text in _documents()]
    shared = []
    for path in EXAMPLES:
        scenario = load_scenario(path.read_text(encoding="utf-8"), path.name)
        on_its_own = any(
            isinstance(t, KvTrigger) and _SIMULATED_KEY.fullmatch(t.pattern)
            for t in scenario.triggers
        )
        if not on_its_own:
            continue
        own = {action.device for action in _device_actions(scenario.actions)}
        for where, other in documents:
            if where == path.name:
                continue
            common = own & {a.device for a in _device_actions(other.actions)}
            shared += [f"{path.name} and {where}: {device}" for device in common]
    assert shared == []
