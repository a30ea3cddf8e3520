"""Hypothesis settings for the job and driver tests: a fixed number of examples, derandomized,
so that CI runs the same known cases every time (and a failure seen once is seen again).

``DECART_HYPOTHESIS_RANDOM=1`` explores with fresh randomness instead, and
``DECART_HYPOTHESIS_SCALE=10`` runs ten times as many examples: for hunting, not for CI.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_RANDOM = os.environ.get("DECART_HYPOTHESIS_RANDOM") == "1"
_SCALE = max(1, int(os.environ.get("DECART_HYPOTHESIS_SCALE", "1")))


def examples(n: int, **extra: object) -> settings:
    """Settings for a test that runs *n* examples in CI."""
    return settings(
        max_examples=n * _SCALE,
        derandomize=not _RANDOM,
        database=None,
        deadline=None,  # a loaded 2-core CI machine must not turn slowness into failures
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
        **extra,  # type: ignore[arg-type]
    )
