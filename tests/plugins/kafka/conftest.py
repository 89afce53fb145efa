from tests.fixtures.kafka import tansu, topic_name  # noqa: F401 -- fixtures used by the tests here
from tests.fixtures.tls import tls_broker  # noqa: F401
