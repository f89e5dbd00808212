import os

import pytest

try:  # tests/ as a package or as a plain rootdir-on-sys.path directory
    from .slurm_cluster import SlurmCluster, SlurmUnavailable
except ImportError:
    from slurm_cluster import SlurmCluster, SlurmUnavailable


@pytest.fixture(scope="session")
def slurm_cluster():
    """A started single-node SLURM cluster (tests/slurm_cluster.py), shared by the session.

    Skips when SLURM cannot be installed or started here; set BEATVAE_REQUIRE_SLURM=1 to make
    that a failure instead (CI machines where the cluster must work).
    """
    cluster = SlurmCluster()
    try:
        cluster.start()
    except SlurmUnavailable as e:
        if os.environ.get("BEATVAE_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM test cluster unavailable: {e}")
        pytest.skip(f"SLURM test cluster unavailable: {e}")
    try:
        yield cluster
    finally:
        cluster.stop()
