"""``python -m patchwire.providers.replicate.simulator``: the same as ``patchwire fake-replicate``."""

import sys

from patchwire.providers.replicate.simulator.cli import main

sys.exit(main())
