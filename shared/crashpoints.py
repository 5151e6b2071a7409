"""Injectable crash points, for the fault-injection suite: with
`PCPUB_CRASH_AT="after_pc_call=0.1,after_ledger_write=0.1"` the process exits at once (as a
SIGKILL would leave it) at that point with that probability. Unset, as in production, it is a
single environment lookup.

Points: after_pc_call (a stage called Partner Center, nothing recorded yet; also
`after_pc_call:<stage>` for one stage), after_checkpoint (an intent recorded, its call not made),
after_ledger_write (the run moved on, the hand-off not sent), after_enqueue (the hand-off
sent, the delivered message not yet deleted); the local host adds before_delete.
"""

from __future__ import annotations

import os
import random

VARIABLE = "PCPUB_CRASH_AT"


def crash_point(name: str) -> None:
    spec = os.environ.get(VARIABLE)
    if not spec:
        return
    for part in spec.split(","):
        point, _, chance = part.partition("=")
        if point.strip() == name and random.random() < float(chance or 1):
            os._exit(137)
