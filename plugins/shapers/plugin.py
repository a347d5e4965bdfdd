"""The built-in input shapers (see ``patchwire.hookspecs.patchwire_input_shapers``):

=====  =================  ========================================================================
order  name               what it does
=====  =================  ========================================================================
100    ``images``         ``image_url`` parts -> the model's image input (``image``,
                          ``image_input``, ``images``, ...), checked against what it takes
200    ``messages``       the conversation -> a ``messages`` array input, natively
300    ``system_prompt``  system messages -> ``system_prompt`` / ``system_instruction``, the rest
                          -> ``prompt``, for models whose prompt no chat format renders
=====  =================  ========================================================================

Whatever they leave unplaced, the prompt formatter renders into ``prompt``.
"""

from __future__ import annotations

import patchwire
from patchwire.plugins.shapers.base import Shaper
from patchwire.plugins.shapers.conversation import MESSAGES, SYSTEM_PROMPT
from patchwire.plugins.shapers.images import IMAGES


@patchwire.hookimpl
def patchwire_input_shapers() -> list[Shaper]:
    return [IMAGES, MESSAGES, SYSTEM_PROMPT]
