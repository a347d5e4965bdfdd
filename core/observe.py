"""Events worth counting that happen deep inside a call: upstream 429s and retries, fallbacks,
cooldowns. Whoever sees one calls ``event(kind, label)``; whoever counts them (``patchwire.metrics``)
listens. Nothing listens by default, and an event costs one empty-set check then.
"""

from __future__ import annotations

import weakref
from typing import Protocol

#: Kinds of event, by who reports them.
RATE_LIMITED = "upstream_rate_limited"  # a provider answered 429 (label: provider)
RETRY = "upstream_retry"  # a request to a provider was sent again (label: provider)
FALLBACK = "fallback"  # a call moved on to a fallback model (label: the model it left)
COOLDOWN = "cooldown"  # a deployment was put in cooldown (label: the deployment)


class Listener(Protocol):
    def on_event(self, kind: str, label: str) -> None: ...


_listeners: weakref.WeakSet[Listener] = weakref.WeakSet()


def listen(listener: Listener) -> None:
    """``listener.on_event(kind, label)`` is called for every event while ``listener`` is alive."""
    _listeners.add(listener)


def forget(listener: Listener) -> None:
    _listeners.discard(listener)


def event(kind: str, label: str) -> None:
    """Report one event of ``kind`` (see the constants above) about ``label``."""
    if _listeners:
        for listener in list(_listeners):
            listener.on_event(kind, label)
