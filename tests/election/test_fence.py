"""The fence a resource keeps: the newest term writes, the same term again, an older term refused."""

from __future__ import annotations

import pytest

from zactor.services.election import Fence, StaleTerm


def test_terms_only_move_forward() -> None:
    fence = Fence()
    fence.admit(1)
    fence.admit(1)  # the same leader writes again
    fence.admit(3)
    with pytest.raises(StaleTerm, match="term 1 is stale: term 3 writes here now") as info:
        fence.admit(1)
    assert (info.value.term, info.value.current, fence.term) == (1, 3, 3)


def test_a_term_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="int"):
        Fence().admit(True)  # a bool from a careless caller is not term 1
    with pytest.raises(TypeError):
        Fence().admit("2")  # type: ignore[arg-type]
