import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def clip3():
    from salsav_core.data.synthfoley import make_clip
    return make_clip(3, duration=2.0, size=64)
