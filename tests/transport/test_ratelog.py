"""Logs a peer can trigger are rate-limited: the first few a second pass, the rest are counted and summarised."""

from __future__ import annotations

import logging

import pytest

from zactor.transport.ratelog import RateLimitedLogger


def test_at_most_n_records_a_second_then_a_summary(caplog: pytest.LogCaptureFixture) -> None:
    """1,000 warnings in one second log 5 lines; the next second starts with a line counting the 995 held back."""
    now = [100.0]
    limited = RateLimitedLogger(logging.getLogger("zactor.test.ratelog"), per_second=5, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="zactor.test.ratelog"):
        for i in range(1000):
            limited.warning("bad envelope %d", i)
        assert [r.getMessage() for r in caplog.records] == [f"bad envelope {i}" for i in range(5)]
        now[0] += 1.0
        limited.warning("bad envelope again")
    assert caplog.records[5].getMessage() == "995 similar messages suppressed in the last second"
    assert caplog.records[6].getMessage() == "bad envelope again"
    assert limited.suppressed == 995
