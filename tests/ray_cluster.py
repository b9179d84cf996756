"""A local Ray instance for the tests: started once per session by the first test that asks for it.

Small object store and no dashboard; Ray's usage reporting is off (no network). The CLI under test
joins it as a second driver with ``--ray ADDRESS``, as a user joins a real cluster.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_address() -> str:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # one machine: loopback addresses only
    import ray  # a dependency (pyproject): missing, the tests fail here, loudly

    ray.init(num_cpus=8, object_store_memory=100 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
