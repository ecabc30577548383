"""The configuration reference is generated from raspy/config.py and kept equal to it;
the commented TOML raspyd prints loads back to the same Config."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from raspy import config as config_mod
from raspy import config_doc

ROOT = Path(__file__).resolve().parents[2]


def test_docs_configuration_md_is_what_the_generator_writes() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == config_doc.render_markdown(), "run tools/gen_config_docs.py"


def test_the_production_example_is_what_the_generator_writes() -> None:
    text = (ROOT / "raspy" / "defaults" / "raspyd.toml").read_text(encoding="utf-8")
    assert text == config_doc.production_example(), "run tools/gen_config_docs.py"


def test_every_key_has_a_help_comment_next_to_it_in_config_py() -> None:
    assert config_doc.undescribed() == []


def test_every_section_and_key_of_config_is_in_the_reference() -> None:
    markdown = config_doc.render_markdown()
    for field in dataclasses.fields(config_mod.Config):
        value = getattr(config_mod.Config(), field.name)
        if dataclasses.is_dataclass(value):
            assert f"## `[{field.name}]`" in markdown
            for key in dataclasses.fields(value):
                assert f"| `{key.name}` |" in markdown
        else:
            assert f"| `{field.name}` |" in markdown


def test_the_production_example_loads_as_the_production_config() -> None:
    loaded = config_mod.load(config_doc.production_example(), "raspyd.toml")
    assert loaded == dataclasses.replace(config_mod.Config(), **config_doc.PRODUCTION)


def test_printed_toml_loads_back_to_the_same_config() -> None:
    text = (
        'hostname = "pi"\n[network]\nport_base = 6000\nbind = "0.0.0.0"\n'
        "[titanic]\nretention_s = 3600.0\n[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "rtc"\noid = "clock.rtc"\npoll_interval_s = 0.5\n'
        "[stats]\npublish_interval_s = 0.0\n"
    )
    config = config_mod.load(text, "in.toml")
    printed = config_doc.render_toml(config, "effective")
    assert config_mod.load(printed, "printed.toml") == config
    assert "port_base = 6000\n# (default: 5514)" in printed
    assert "# linger_ms = 500" in printed


def test_the_generator_script_finds_nothing_out_of_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_config_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
