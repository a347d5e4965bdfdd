"""How the handlers patchwire installs itself (``patchwire`` commands, ``set_verbose``) write a line.

patchwire's messages begin "patchwire: ..." so that a program without any logging set up (Python then
prints the bare message of a warning) still shows whose they are. A format that prints the logger's
name says that already: ``NameOnce`` drops the message's own prefix there, so a line reads
"WARNING patchwire: dropped ..." and not "WARNING patchwire: patchwire: dropped ...".
"""

from __future__ import annotations

import copy
import logging

PREFIX = "patchwire: "
#: The format of ``patchwire`` commands (the proxy among them).
COMMAND_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class NameOnce(logging.Formatter):
    """A formatter for formats that print ``%(name)s``: a patchwire logger's line names it once."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if record.message.startswith(PREFIX) and (
            record.name == "patchwire" or record.name.startswith("patchwire.")
        ):
            record = copy.copy(record)  # other handlers format the same record: leave it whole
            record.message = record.message[len(PREFIX) :]
        return super().formatMessage(record)
