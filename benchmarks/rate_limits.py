"""Replicate's rate limits: how close patchwire gets to the account's create limit, and what it spends.

    python benchmarks/rate_limits.py                          # 600 predictions of 20 s, limits x0.4
    python benchmarks/rate_limits.py --predictions 2000 --scale 1 --mode mixed
    python benchmarks/rate_limits.py --replicas 3 --redis redis://127.0.0.1:6379/0 --rpm 240

The same as ``patchwire bench --rate-limits replicate`` (see ``patchwire.providers.replicate.bench.
rate_limits``): the simulator enforces Replicate's limits scaled by ``--scale`` (0.4: 240 creates and
1,200 other requests a minute), every prediction is started at once, and the report gives sustained
creates a minute against the limit, requests per prediction by endpoint, the 429 share and failures.
"""

from __future__ import annotations

import sys

from patchwire.providers.replicate.bench.rate_limits import main

if __name__ == "__main__":
    sys.exit(main())
