"""The slow start: how many creates may be on the wire before the account could refuse them."""

from __future__ import annotations

from patchwire.slowstart import FIRST_CONFIRM, FIRST_WINDOW, IDLE, SlowStart


def fill(slow: SlowStart, now: float) -> int:
    """Creates let through at ``now`` until the window is full; then one waits (as the gate counts)."""
    taken = 0
    while slow.take(now) == 0.0:
        taken += 1
    slow.waiting = 1
    return taken


def rounds(slow: SlowStart, now: float, n: int, answer: float = 0.05) -> float:
    """``n`` round trips of a crowd larger than the window: every place used, answered in ``answer``."""
    quick(slow, now - 1.0, answer)
    for _ in range(n):
        taken = fill(slow, now)
        now += answer
        for _ in range(taken):
            slow.answered(answer, now)
    return now


def test_at_first_the_window_is_spread_over_the_time_a_refusal_could_take() -> None:
    # Nothing has shown how quick the server is: 10 creates a second, one every 0.1 s, so the create
    # that crosses a limit nobody knew is refused alone, before the next one goes.
    slow = SlowStart()
    step = FIRST_CONFIRM / FIRST_WINDOW
    for i in range(int(FIRST_WINDOW)):
        assert slow.take(100.0 + i * step) == 0.0
        assert 0.0 < slow.take(100.0 + i * step) <= step
    assert slow.take(100.0 + FIRST_CONFIRM - 0.01) > 0.0  # the window is full
    slow.waiting = 1  # (the gate counts the creates that wait)
    assert slow.take(100.0 + FIRST_CONFIRM) == 0.0  # the first was confirmed by time: nothing refused it
    assert slow.window == FIRST_WINDOW + 0.1  # time alone: one more a round while creates wait, not double


def quick(slow: SlowStart, now: float, answer: float = 0.05) -> None:
    """One create answered in ``answer``: the server's speed is known, nothing is spread any more."""
    assert slow.take(now) == 0.0
    slow.answered(answer, now + answer)


def test_quick_answers_free_places_and_grow_the_window_while_creates_wait() -> None:
    slow = SlowStart()
    rounds(slow, 100.0, 5)
    assert slow.window == FIRST_WINDOW * 32  # doubled each round trip
    assert slow.confirm_after == 0.1  # a refusal comes back within twice the quickest answer


def test_a_window_nobody_waits_for_does_not_grow_and_a_crowd_through_doubles_it() -> None:
    slow = SlowStart()
    now = 100.0
    quick(slow, now - 1.0)
    for _ in range(100):  # one create at a time
        assert slow.take(now) == 0.0
        now += 0.05
        slow.answered(0.05, now)
    assert slow.window == FIRST_WINDOW
    fill(slow, now)
    slow.crowd_through()  # the window was full and all of it accepted
    assert slow.window == 2 * FIRST_WINDOW


def test_a_late_answer_frees_no_place_and_a_refusal_halves_the_window() -> None:
    slow = SlowStart()
    now = rounds(slow, 100.0, 4, answer=0.01)
    fill(slow, now)
    slow.answered(30.0, now + 0.01)  # a prediction's run time: its create was confirmed by time...
    assert fill(slow, now + 0.01) == 0  # ...so its answer frees no place and does not widen the window
    grown = slow.window
    slow.refused(0.002, now + 0.01)
    assert slow.window == max(FIRST_WINDOW, grown / 2)
    assert slow.confirm_after < 0.01  # a refusal this quick: creates are confirmed sooner


def test_after_a_long_pause_the_window_starts_again() -> None:
    slow = SlowStart()
    now = rounds(slow, 100.0, 4)
    assert slow.window > FIRST_WINDOW
    assert slow.take(now + IDLE + 1) == 0.0
    assert slow.window == FIRST_WINDOW
