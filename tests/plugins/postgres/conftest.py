from tests.fixtures.kafka import tansu, topic_name  # noqa: F401 -- fixtures used by the tests here
from tests.fixtures.postgres import pg_dsn, pg_server  # noqa: F401
