"""Ordered, bounded parallel map: the one mechanism behind chunked work on several cores.

Feature building (threads over chunks of advocates) and batch scoring (processes over chunks of
the roster) both submit chunks as they are produced and consume results in submission order,
with a cap on how many are in flight so memory stays bounded by a few chunks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

R = TypeVar("R")


def bounded_map(
    pool: Executor, fn: Callable[..., R], items: Iterable[tuple[Any, ...]], in_flight: int
) -> Iterator[R]:
    """``fn(*item)`` for every item, run on ``pool``, yielded in the order of ``items``.

    At most ``in_flight`` calls are submitted and not yet yielded; ``items`` is consumed only
    as room frees up, so a lazy producer of large chunks never runs far ahead. An exception
    of a call is raised when its result is due.
    """
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, *item))
        while len(pending) >= max(in_flight, 1):
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
