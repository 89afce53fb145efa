from tests.fixtures.plugin_example import plugin_example_site  # noqa: F401 -- a fixture used by the tests here
