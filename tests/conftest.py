"""Shared test configuration. Server fixtures live in tests/fixtures/ and are imported by the conftest of the
folders that need them."""
