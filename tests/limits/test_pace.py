"""The learned pace: what one 429 teaches a budget."""

from __future__ import annotations

import pytest

from patchwire.pacing import FLOOR, Pace


def test_a_lone_429_paces_no_slower_than_the_wait_it_asked_for() -> None:
    pace = Pace()
    assert pace.delay(100.0) == 0.0  # one request sent, unpaced
    pace.refused(sent_at=100.0, now=100.1, wait=2.0)  # ...and refused: nothing was let through
    assert pace.rate == 0.5  # one request per two seconds, as the wait says, not the floor
    assert pace.rate > FLOOR


def test_a_crowd_is_paced_at_the_rate_it_was_let_through() -> None:
    pace = Pace()
    for i in range(40):  # 40 requests over 10 s, the last one refused
        pace.delay(100.0 + i * 0.25)
    pace.refused(sent_at=109.75, now=109.8, wait=1.0)
    assert pace.rate is not None and 3.5 < pace.rate < 4.5  # 39 let through in 9.8 s
    assert pace.delay(109.8) == 0.0
    assert 0.0 < pace.delay(109.81)  # the next one waits its turn


def test_two_refusals_measure_the_rate_the_account_refills_at() -> None:
    # A first refusal after a burst measures too high a pace; the next refusal, 5 s later, measures
    # what the account let through in between: 4 a second, its real rate.
    pace = Pace()
    for _ in range(50):  # 50 at once: the burst of 40 let through, 10 refused
        pace.delay(100.0)
    pace.refused(sent_at=100.0, now=100.01, wait=1.0)
    assert pace.rate is not None and pace.rate > 10.0
    for i in range(1, 21):  # then 20 let through over the next 5 s, and one more refused
        pace.sent(100.0 + i * 0.25)
    pace.sent(105.0)
    pace.refused(sent_at=105.0, now=105.01, wait=1.0)
    assert 3.8 <= pace.rate <= 4.2


def test_refusals_less_than_a_second_apart_do_not_measure_a_rate() -> None:
    pace = Pace()
    for _ in range(20):
        pace.delay(100.0)
    pace.refused(sent_at=100.0, now=100.01, wait=1.0)
    first = pace.rate
    pace.refused(sent_at=100.001, now=100.02, wait=1.0)  # the same crowd: nothing measured between
    assert first is not None and pace.rate is not None and pace.rate >= first * 0.9


def test_a_lone_429s_lower_bound_doubles_every_wait_until_a_refusal_measures_the_rate() -> None:
    # A lone 429 asking for 1 s after a request or two says little: one a second is only a lower bound
    # of the account's rate (Replicate rounds waits up to whole seconds), so it must not hold a router
    # back to that for long; a pace measured between two refusals grows by 0.5% a second only.
    pace = Pace()
    pace.delay(100.0)
    pace.refused(sent_at=100.0, now=100.0, wait=1.0)
    assert pace.low_guess and pace.current(100.0) == 1.0
    assert pace.current(103.0) == 8.0
    for i in range(1, 21):
        pace.sent(100.0 + i * 0.25)
    pace.refused(sent_at=105.0, now=105.0, wait=1.0)
    assert not pace.low_guess and pace.rate is not None
    assert pace.rate == 19 / 5  # let through in the 5 s between the refusals
    quiet = 10 / pace.rate  # ten requests' time at the measured rate, then it grows
    assert pace.current(105.0 + quiet - 0.01) == pace.rate
    assert pace.current(107.0 + quiet) == pytest.approx(pace.rate * 1.01)


def test_a_low_credit_refusal_paces_at_one_per_wait_and_does_not_grow_fast() -> None:
    # 6 a minute with a burst of 1: the second of two creates a moment apart is refused, asking for
    # 10 s: one every 10 s is the account's rate, not a lower bound to double.
    pace = Pace()
    pace.delay(100.0)
    pace.delay(100.1)
    pace.refused(sent_at=100.1, now=100.11, wait=10.0)
    assert pace.rate == 0.1 and not pace.low_guess
    assert pace.current(110.0) is not None and pace.current(110.0) < 0.11


def test_a_measured_slow_pace_is_kept_even_when_a_429_asks_for_a_short_wait() -> None:
    # One create every 10 s: a 429 that comes when the next one is nearly due asks for 1 s; that is
    # when the next token comes, not a rate of one a second.
    pace = Pace()
    pace.delay(100.0)
    pace.refused(sent_at=100.0, now=100.0, wait=10.0)
    for i in range(1, 5):
        pace.sent(100.0 + i * 10.0)
    pace.sent(149.0)
    pace.refused(sent_at=149.0, now=149.0, wait=1.0)
    assert pace.rate is not None and 0.08 <= pace.rate <= 0.1
    assert pace.current(200.0) == pace.rate  # no growth within ten requests' time: it would be refused
