"""bounded_map: results in input order, never more than the cap in flight, errors when due."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engagement_score.parallel import bounded_map


def test_results_in_order_and_in_flight_bounded() -> None:
    lock = threading.Lock()
    running = {"now": 0, "most": 0}
    produced: list[int] = []

    def items():
        for i in range(40):
            produced.append(i)
            yield (i,)

    def work(i: int) -> int:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        with lock:
            running["now"] -= 1
        return i * i

    with ThreadPoolExecutor(max_workers=4) as pool:
        out = []
        for k, r in enumerate(bounded_map(pool, work, items(), 3)):
            out.append(r)
            assert len(produced) - (k + 1) < 3  # the producer never runs more than 3 ahead
    assert out == [i * i for i in range(40)]
    assert running["most"] <= 3


def test_error_raised_when_its_result_is_due() -> None:
    def work(i: int) -> int:
        if i == 5:
            raise ValueError("five")
        return i

    with ThreadPoolExecutor(max_workers=2) as pool:
        seen = []
        with pytest.raises(ValueError, match="five"):
            for r in bounded_map(pool, work, ((i,) for i in range(10)), 2):
                seen.append(r)
    assert seen == [0, 1, 2, 3, 4]
