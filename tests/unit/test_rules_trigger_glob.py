"""A glob of one key (trigger_match.literal_glob's escapes) told from a glob of
several: a kv trigger on `/x/[[]1]` watches the key `/x/[1]` alone, and a run
tried as it (`run --trigger`) or the import's check of device keys takes it so."""

from __future__ import annotations

import pytest

from raspy.rules import trigger_match as tm

pytestmark = pytest.mark.timeout(10)


def test_is_glob_knows_the_escape_of_a_literal_glob() -> None:
    for key in ("/x/[1]", "/a*b", "/q?", "/[*]/[[]/[?]", "/plain"):
        glob = tm.literal_glob(key)
        assert (tm.is_glob(glob), tm.glob_key(glob)) == (False, key)
    for glob in ("/x/[12]", "/x/*", "/x/?", "/x/[[]1]*", "/x/[!a]", "/x/[a[*]"):
        assert tm.is_glob(glob)
