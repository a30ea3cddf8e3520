"""Hypothesis defaults for the whole suite: CI must be deterministic and must not fail because a
shared 2-core machine was slow for a moment.

Derandomized unless ``DECART_HYPOTHESIS_RANDOM=1`` (for hunting bugs with fresh randomness), so a
failure seen in CI is seen again on the next run; no deadline and no too-slow health check,
since a draw that took two seconds on a loaded machine says nothing about the code.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "decart-proto",
    derandomize=os.environ.get("DECART_HYPOTHESIS_RANDOM") != "1",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("decart-proto")
