"""``python -m patchwire.providers.replicate.simulator``: the same as ``patchwire fake-replicate``."""

import sys

from patchwire.providers.replicate.simulator import main

sys.exit(main())
