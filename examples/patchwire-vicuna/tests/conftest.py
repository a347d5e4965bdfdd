"""The fixtures of ``patchwire.testing`` (a fake Replicate per test). In a project's top-level
``conftest.py``, ``pytest_plugins = ["patchwire.testing"]`` does the same."""

from patchwire.testing import fake_replicate_server, start_fake_replicate

__all__ = ["fake_replicate_server", "start_fake_replicate"]
