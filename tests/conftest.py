"""Shared test setup: x64 on (float32 tests ask for float32 explicitly), hypothesis profile,
and one persistent compilation cache for the whole run."""

import os
import shutil
import tempfile

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)


def pytest_configure(config):
    """One JAX compilation cache per test run, shared by the xdist workers and the
    subprocesses (examples, README blocks, benchmark smoke runs) through the environment:
    a program compiled by one process is loaded by the others (a user's own
    ``JAX_COMPILATION_CACHE_DIR`` is kept)."""
    if not hasattr(config, "workerinput") and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="subopt-jax-cache-")
        os.environ["SUBOPT_TEST_OWNS_JAX_CACHE"] = "1"
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput") and os.environ.pop("SUBOPT_TEST_OWNS_JAX_CACHE", None):
        shutil.rmtree(os.environ.pop("JAX_COMPILATION_CACHE_DIR"), ignore_errors=True)


settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Run a test in both float precisions."""
    return jax.numpy.dtype(request.param)
