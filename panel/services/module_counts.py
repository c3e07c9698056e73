"""The counts above the list (installed, and in each state) as a toggle's answer shows them.

Counting the enabled modules reads the state index: at 20,000 installed, half of them enabled,
that was 0.3 ms, the largest part of a toggle. So each worker keeps the counts it read under the
`generation` counter, and a toggle whose commit moved that counter from N-1 to N and nothing else
(`state.moved_alone`) switched exactly one module from one state to another: the counts at N are
those kept at N-1 with that one move, and no statement counts anything.

Behind gunicorn the administrator's clicks land on any worker, so the worker toggling often kept the
counts at an earlier generation: other workers' switches came between. Each switch's audit entry
names the generation it moved the counter to and the state it found its module in
(`audit.record_switch`), so the counts kept then are brought up to N-1 by the switches since, read in
the statement the sidebar's catch-up reads them with (`sidebar.switches_since`, once per request),
when every generation since is exactly one switch's (an install, a discovery or switches raced on
PostgreSQL leave one named by none or by two: then the toggle counts again).
"""

from ..runtime import state
from .sidebar import MAX_CATCH_UP, switches_since

_KEY = "counts"
_TO_STATE = {"enabled": "enabled", "disabled": "disabled", "enable_failed": "failed"}  # a switch's action


def _kept() -> state.CountedCache:
    return state.cache("module_counts", ("generation",), max_entries=8)


def keep(counts: dict[str, int], generation: int) -> None:
    """`counts` as they were when `generation` had that value (read in the same statement)."""
    _kept().put((generation,), _KEY, counts)


def catch_up() -> None:
    """Before a switch writes anything: the counts at the generation this request read, caught up
    now if they must be (so the statement runs in the transaction the switch has open, not after
    its commit on a connection of its own; the sidebar's catch-up finds the switches read)."""
    _at(state.value("generation"))


def switched(before: str | None, after: str) -> None:
    """This request just committed one module's switch from state `before` (as its audit entry found
    it; None: not known) to `after`: keep the counts it left, when the ones before it are known."""
    generation = state.moved_alone("generation")
    if generation is None or before is None:
        return
    counts = _at(generation - 1)
    if counts is None:
        return
    counts = dict(counts)
    counts[before] -= 1
    counts[after] += 1
    keep(counts, generation)


def _at(generation: int) -> dict[str, int] | None:
    """The counts at `generation`: kept, or caught up (and then kept) from the latest kept at most
    `MAX_CATCH_UP` generations before it by the switches since; None when neither can be."""
    kept = _kept().find(_KEY, lambda stamp: generation - MAX_CATCH_UP <= stamp[0] <= generation)
    if kept is None:
        return None
    (since,), counts = kept
    if since == generation:
        return counts
    switches = switches_since(since, generation)  # read with their sidebar entries: the sidebar catches up next
    if sorted(row.generation for row in switches) != list(range(since + 1, generation + 1)):
        return None
    counts = dict(counts)
    for row in switches:
        if row.from_state not in _TO_STATE.values() or row.action not in _TO_STATE:
            return None  # an entry written before the state was recorded
        counts[row.from_state] -= 1
        counts[_TO_STATE[row.action]] += 1
    keep(counts, generation)
    return counts


def after_switch() -> dict[str, int] | None:
    """The counts as this request's switch left them, when `switched` could derive them."""
    generation = state.moved_alone("generation")
    found = None if generation is None else _kept().find(_KEY, lambda stamp: stamp[0] == generation)
    return None if found is None else found[1]
