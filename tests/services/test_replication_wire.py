"""The columnar wire form of ``(key, timestamp)`` pairs in anti-entropy states: round trip and refusals."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zactor.errors import ClockOffsetError, DecodeError
from zactor.services.clock.hlc import MAX_LOGICAL, HLCTimestamp
from zactor.services.replication.handlers import stamped_columns, wire_stamped
from zactor.transport.codec import decode_body

NOW_MS = 1_700_000_000_000


def _accept(ts: HLCTimestamp) -> None:
    """A clock check that refuses what is more than a second past NOW_MS."""
    if ts.physical_ms > NOW_MS + 1000:
        raise ClockOffsetError(ts.node_id, ts.physical_ms - NOW_MS, 1000)


stamps = st.builds(HLCTimestamp, st.integers(0, NOW_MS), st.integers(0, MAX_LOGICAL), st.text(min_size=1, max_size=8))


def _received(columns: Any) -> dict[Any, HLCTimestamp]:
    """The pairs a node takes from a ``State`` whose live keys are ``columns``: decoded, checked, parsed."""
    body = msgpack.packb({"entries": columns, "dead": [[], [], [], []], "seq": 0})
    return wire_stamped(decode_body("zactor.repl.State", body).entries, _accept)


@given(st.dictionaries(st.one_of(st.text(max_size=8), st.binary(max_size=8)), stamps, max_size=30))
def test_pairs_survive_the_wire(pairs: dict[Any, HLCTimestamp]) -> None:
    parsed = _received(stamped_columns(list(pairs.items())))
    assert parsed == pairs and all(type(ts) is HLCTimestamp for ts in parsed.values())


@pytest.mark.parametrize(
    "columns",
    [
        [["k"], [1], [0]],  # three columns
        {"k": [1, 0, "n"]},  # not a list
        [["k"], [1], [0], "n"],  # a column that is not a list
        [["k", "j"], [1], [0], ["n"]],  # lengths differ
        [[7], [1], [0], ["n"]],  # an int key
        [["k"], [True], [0], ["n"]],  # a bool for a uint
        [["k"], [-1], [0], ["n"]],  # negative time
        [["k"], [1.5], [0], ["n"]],  # a float
        [["k"], [1], [MAX_LOGICAL + 1], ["n"]],  # logical out of bounds
        [["k"], [1], [0], [b"n"]],  # a node id in bytes
    ],
)
def test_malformed_columns_are_refused(columns: Any) -> None:
    """Refused at decode (shape and types) or when parsed (lengths and ranges)."""
    with pytest.raises(DecodeError):
        _received(columns)


def test_one_timestamp_far_ahead_refuses_all() -> None:
    columns = stamped_columns([("a", HLCTimestamp(NOW_MS, 0, "n")), ("b", HLCTimestamp(2**62, 0, "evil"))])
    with pytest.raises(ClockOffsetError):
        _received(columns)
