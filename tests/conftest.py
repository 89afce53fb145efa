"""Shared test configuration. Server fixtures live in tests/fixtures/ and are imported by the conftest of the
folders that need them."""

from hypothesis import settings

# No per-example deadline: on a loaded 2-core CI machine a descheduled example would fail as "unreliable timings",
# a verdict about the machine rather than the code.
settings.register_profile("lmnh", deadline=None)
settings.load_profile("lmnh")
