"""The write budget's settings in [store] (issue 17): defaults, overrides, refusals."""

from __future__ import annotations

import pytest

from raspy import config
from raspy.errors import ConfigError


def test_readings_and_statistics_are_coalesced_once_a_minute_by_default() -> None:
    store = config.load("").store
    assert (store.coalesced_prefixes, store.coalesce_interval_s, store.seq_block) == (
        ("/device/", "/stats/"),
        60.0,
        10_000,
    )


def test_the_file_sets_the_prefixes_the_interval_and_the_block() -> None:
    text = (
        "[store]\n"
        'coalesced_prefixes = ["/device/"]\n'
        "coalesce_interval_s = 0\n"
        "seq_block = 50\n"
    )
    store = config.load(text).store
    assert (store.coalesced_prefixes, store.coalesce_interval_s, store.seq_block) == (
        ("/device/",),
        0.0,
        50,
    )


def test_a_bad_prefix_and_a_zero_block_are_refused_together() -> None:
    text = '[store]\ncoalesced_prefixes = ["device/", 3]\nseq_block = 0\n'
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: store.seq_block: expected >= 1, got 0",
        "raspy.toml: store.coalesced_prefixes: expected key prefixes starting with "
        '/, got "device/"',
        "raspy.toml: store.coalesced_prefixes: expected key prefixes starting with "
        "/, got 3",
    ]
