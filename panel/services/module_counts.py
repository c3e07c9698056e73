"""The counts above the list (installed, and in each state) as a toggle's answer shows them.

Counting the enabled modules reads the state index: at 20,000 installed, half of them enabled,
that was 0.3 ms, the largest part of a toggle. So each worker keeps the counts it read under the
`generation` counter, and a toggle whose commit moved that counter from N-1 to N and nothing else
(`state.moved_alone`) switched exactly one module from one state to another: the counts at N are
those kept at N-1 with that one move, and no statement counts anything.
"""

from ..runtime import state

_KEY = "counts"


def _kept() -> state.CountedCache:
    return state.cache("module_counts", ("generation",), max_entries=8)


def keep(counts: dict[str, int], generation: int) -> None:
    """`counts` as they were when `generation` had that value (read in the same statement)."""
    _kept().put((generation,), _KEY, counts)


def switched(before: str, after: str) -> None:
    """This request just committed one module's switch from state `before` to `after`: keep the
    counts it left, when the ones before it are kept."""
    generation = state.moved_alone("generation")
    if generation is None:
        return
    kept = _kept().find(_KEY, lambda stamp: stamp[0] == generation - 1)
    if kept is None:
        return
    counts = dict(kept[1])
    counts[before] -= 1
    counts[after] += 1
    keep(counts, generation)


def after_switch() -> dict[str, int] | None:
    """The counts as this request's switch left them, when `switched` could derive them."""
    generation = state.moved_alone("generation")
    found = None if generation is None else _kept().find(_KEY, lambda stamp: stamp[0] == generation)
    return None if found is None else found[1]
