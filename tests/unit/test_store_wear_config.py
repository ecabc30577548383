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
    assert sorted(caught.value.problems) == [
        "raspy.toml: store.coalesced_prefixes: expected key prefixes starting with "
        '/, got "device/"',
        "raspy.toml: store.coalesced_prefixes: expected key prefixes starting with "
        "/, got 3",
        "raspy.toml: store.seq_block: expected 1..1000000, got 0",
    ]


def test_a_block_that_would_run_the_sequence_numbers_out_is_refused() -> None:
    """Each start skips what is left of a block: with 2**63 the numbers passed
    2**64 at the second restart and every Clone write failed for good."""
    with pytest.raises(ConfigError) as caught:
        config.load(f"[store]\nseq_block = {2**63 - 1}\n", "f")
    assert caught.value.problems == [
        f"f: store.seq_block: expected 1..1000000, got {2**63 - 1}"
    ]
    assert config.load("[store]\nseq_block = 1000000\n").store.seq_block == 10**6
