"""[[controls]] in raspyd's config: each problem named by its table's index and
field, all at once, by `raspyd --check-config` too."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspy import config
from raspy.cli import raspyd
from raspy.control_tables import declared
from raspy.controls import Control
from raspy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    return caught.value.problems


def test_valid_controls_are_kept_and_declared() -> None:
    loaded = config.load(
        '[[controls]]\nkey = "/house/living/setpoint"\nkind = "number"\n'
        'min = 15\nmax = 25\nstep = 0.5\nunit = "°C"\ninitial = 20\n'
        '[[controls]]\nkey = "/house/mode"\nkind = "choice"\n'
        'options = ["home", "away"]\nlabel = "House mode"\n',
        "raspy.toml",
    )
    assert declared(loaded.controls, 255) == (
        Control(
            "/house/living/setpoint",
            "Setpoint",
            "number",
            15,
            25,
            0.5,
            "°C",
            initial=20,
        ),
        Control("/house/mode", "House mode", "choice", options=("home", "away")),
    )


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            'key = "/device/pi.fake.x/value"\nkind = "switch"',
            'controls[0].key: "/device/pi.fake.x/value" is under a subtree raspy '
            "writes itself (/device/, /board/, /event/, /scenario/, /stats/)",
        ),
        (
            'key = "/stats/x"\nkind = "switch"',
            'controls[0].key: "/stats/x" is under a subtree raspy writes itself '
            "(/device/, /board/, /event/, /scenario/, /stats/)",
        ),
        (
            'key = "house"\nkind = "switch"',
            "controls[0].key: key 'house' is not /-rooted",
        ),
        (
            f'key = "/{"h" * 300}"\nkind = "switch"',
            "controls[0].key: key of 301 bytes (at most 255)",
        ),
        (
            'key = "/device"\nkind = "switch"',
            'controls[0].key: "/device" is the start of /device/, a subtree raspy '
            "writes itself",
        ),
        (
            'key = "/dev"\nkind = "switch"\ninitial = true',
            'controls[0].key: "/dev" is the start of /device/, a subtree raspy '
            "writes itself",
        ),
        (
            'key = "/scenario"\nkind = "text"',
            'controls[0].key: "/scenario" is the start of /scenario/, a subtree '
            "raspy writes itself",
        ),
        (
            'key = "/h"\nkind = "dial"',
            "controls[0].kind: expected one of number, "
            'switch, choice, text, got "dial"',
        ),
        (
            'key = "/h"\nkind = "number"\nmin = 5\nmax = 1',
            "controls[0].max: expected >= min (5), got 1",
        ),
        (
            'key = "/h"\nkind = "number"\nstep = 0',
            "controls[0].step: expected a number > 0, got 0",
        ),
        (
            'key = "/h"\nkind = "number"\nmin = 0\nstep = 0.5\ninitial = 0.7',
            "controls[0].initial: 0.7 is not on the 0.5 step from 0",
        ),
        (
            'key = "/h"\nkind = "switch"\ninitial = "on"',
            "controls[0].initial: 'on' is not on or off (true or false)",
        ),
        (
            'key = "/h"\nkind = "choice"\noptions = ["a", "a"]',
            'controls[0].options: "a" is listed twice',
        ),
        (
            'key = "/h"\nkind = "choice"\noptions = ["home", "None"]',
            'controls[0].options: "None" is Home Assistant\'s word for no option '
            "(its select would show unknown when it is chosen)",
        ),
        (
            'key = "/h"\nkind = "choice"\noptions = []',
            "controls[0].options: expected a list of 1..50 texts of 1..64 "
            "characters, without spaces around them, got []",
        ),
        (
            'key = "/h"\nkind = "text"\nmax_length = 0',
            "controls[0].max_length: expected 1..4096, got 0",
        ),
        (
            'key = "/h"\nkind = "switch"\nmin = 1',
            "controls[0].min: unknown setting (a setting of a number control)",
        ),
        (
            'key = "/h"\nkind = "switch"\nlable = "x"',
            "controls[0].lable: unknown setting (did you mean label?)",
        ),
    ],
)
def test_each_problem_is_named_with_its_table_and_field(
    table: str, problem: str
) -> None:
    assert _problems(f"[[controls]]\n{table}\n") == [f"raspy.toml: {problem}"]


def test_two_controls_on_one_key_are_refused() -> None:
    assert _problems(
        '[[controls]]\nkey = "/house/mode"\nkind = "switch"\n'
        '[[controls]]\nkey = "/house/mode"\nkind = "text"\n'
    ) == ['raspy.toml: controls[1].key: "/house/mode" is already used by controls[0]']


def test_the_key_limit_is_the_clone_servers() -> None:
    assert _problems(
        '[clone]\nmax_key_bytes = 8\n[[controls]]\nkey = "/house/mode"\n'
        'kind = "switch"\n'
    ) == ["raspy.toml: controls[0].key: key of 11 bytes (at most 8)"]


def test_check_config_names_every_control_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "raspyd.toml"
    path.write_text(
        '[[controls]]\nkey = "/house/mode"\nkind = "choice"\n'
        'options = ["home", "away", "night"]\ninitial = "holiday"\n'
        '[[controls]]\nkey = "/event/x"\nkind = "switch"\n',
        encoding="utf-8",
    )
    assert raspyd.main(["--check-config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"raspyd: {path}: controls[0].initial: 'holiday' is not one of home, "
        "away, night",
        f'raspyd: {path}: controls[1].key: "/event/x" is under a subtree raspy '
        "writes itself (/device/, /board/, /event/, /scenario/, /stats/)",
    ]


@pytest.mark.parametrize(
    ("initial", "said"),
    [
        ("2026-12-24", "the date 2026-12-24"),
        ("07:30:00", "the time 07:30:00"),
        ("2026-12-24T07:30:00", "the date-time 2026-12-24T07:30:00"),
        ("[2026-12-24]", '["2026-12-24"]'),
    ],
)
def test_a_toml_date_or_time_as_initial_is_named_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], initial: str, said: str
) -> None:
    path = tmp_path / "raspyd.toml"
    path.write_text(
        f'[[controls]]\nkey = "/house/note"\nkind = "text"\ninitial = {initial}\n',
        encoding="utf-8",
    )
    assert raspyd.main(["--check-config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"raspyd: {path}: controls[0].initial: {said} is not a text"
    ]


@pytest.mark.parametrize("spelled", ["none", "NONE", "nOnE"])
def test_an_option_home_assistant_reads_as_no_option_is_refused(spelled: str) -> None:
    """An MQTT select takes the payload `none`, in any case, as no option."""
    (problem,) = _problems(
        f'[[controls]]\nkey = "/h"\nkind = "choice"\noptions = ["a", "{spelled}"]\n'
    )
    assert problem.startswith(f'raspy.toml: controls[0].options: "{spelled}" is ')
