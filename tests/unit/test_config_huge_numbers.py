"""A TOML number in hex may be of any size (`0x111…`, 4000 digits): `raspyd
--check-config` names its field and says it by its size, where Python's own
words ("Exceeds the limit (4300 digits)…") or an OverflowError came out."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspy.cli import raspyd

pytestmark = pytest.mark.timeout(30)

HEX = "0x" + "1" * 4000  # 4816 decimal digits
SAID = "an integer of 4816 digits"
CONTROL = '[[controls]]\nkey = "/house/x"\nkind = "number"\n'

CASES = [
    (
        "fake-device-min",
        f'[devices]\nfake_enabled = true\n[[devices.fake]]\nname = "t"\n'
        f'oid = "sensor.temperature"\nmin = {HEX}\n',
        f"devices.fake: device 't': min: expected a finite number below 2**63, "
        f"got {SAID}",
    ),
    (
        "control-min",
        f"{CONTROL}min = {HEX}\n",
        f"controls[0].min: expected a finite number, got {SAID}",
    ),
    (
        "control-step",
        f"{CONTROL}step = {HEX}\n",
        f"controls[0].step: expected a finite number, got {SAID}",
    ),
    (
        "control-initial",
        f"{CONTROL}initial = {HEX}\n",
        f"controls[0].initial: {SAID} is too large for a number",
    ),
    (
        "float-setting",
        f"[broker]\nbusy_timeout_s = {HEX}\n",
        f"broker.busy_timeout_s: expected a finite number, got {SAID}",
    ),
    (
        "bounded-int",
        f"[network]\nport_base = {HEX}\n",
        f"network.port_base: expected 1..65532, got {SAID}",
    ),
    (
        "qos",
        f"[mqtt]\nqos = {HEX}\n",
        f"mqtt.qos: expected 0, 1 or 2, got {SAID}",
    ),
    (
        "map-size-initial",
        f"[store]\nmap_size_initial_mb = {HEX}\n",
        f"store.map_size_initial_mb: expected 1..map_size_max_mb (1024), got {SAID}",
    ),
    (
        "titanic-body",
        f"[titanic]\nmax_body_bytes = {HEX}\n",
        f"titanic.max_body_bytes: expected 1..1073741824, got {SAID}",
    ),
    (
        # the check of interval x liveness multiplied a float by it: OverflowError
        "heartbeat-liveness",
        f"[broker]\nheartbeat_liveness = {HEX}\n",
        f"broker.heartbeat_liveness: expected 1..1000, got {SAID}",
    ),
]


@pytest.mark.parametrize(
    ("text", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_config_names_the_field_of_a_huge_integer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    path = tmp_path / "raspyd.toml"
    path.write_text(text, encoding="utf-8")
    assert raspyd.main(["--check-config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"raspyd: {path}: {problem}"]
