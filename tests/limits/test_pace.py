"""The learned pace: what one 429 teaches a budget."""

from __future__ import annotations

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
