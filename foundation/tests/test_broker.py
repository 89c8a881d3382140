"""
The broker's transport (`foundation.broker`) on a real Redis: a channel whose
transport was closed under it (what Celery's consumer does after a lost
connection) still gives back the messages it held unacknowledged, instead of
crashing the worker with kombu's AttributeError.
"""

import uuid
from urllib.parse import urlsplit

import pytest
import redis
from kombu import Connection

from testing import services

TRANSPORT = "foundation.broker:Transport"


@pytest.fixture
def broker_url():
    address = urlsplit(services.REDIS_URL)
    services.require("Redis", address.hostname, address.port or 6379)
    return services.REDIS_URL


def waiting(url: str, queue: str) -> int:
    with Connection(url) as conn:
        return conn.default_channel.client.llen(queue)


def test_closing_a_channel_after_its_transport_gives_back_its_unacked_messages(broker_url):
    queue = f"test-broker-{uuid.uuid4().hex}"
    conn = Connection(broker_url, transport=TRANSPORT)
    simple = conn.SimpleQueue(queue)
    simple.put({"task": "x"})
    message = simple.get(timeout=5)  # delivered, not acknowledged
    assert message.payload == {"task": "x"} and waiting(broker_url, queue) == 0

    conn.transport.client = None  # Connection.collect() after a lost connection
    conn.default_channel.close()  # kombu's own transport: AttributeError 'hostname'

    assert waiting(broker_url, queue) == 1
    with Connection(broker_url) as fresh:
        fresh.default_channel.client.delete(queue)


def test_a_task_that_ends_after_the_reconnection_acknowledges_its_message(broker_url):
    queue = f"test-broker-{uuid.uuid4().hex}"
    conn = Connection(broker_url, transport=TRANSPORT)
    simple = conn.SimpleQueue(queue)
    simple.put({"task": "x"})
    message = simple.get(timeout=5)
    tag = message.delivery_tag
    with Connection(broker_url) as fresh:
        assert fresh.default_channel.client.hexists("unacked", tag)

        conn.transport.client = None  # the connection was lost meanwhile,
        conn.default_channel._disconnect_pools()  # and its pools closed (Channel.close)
        message.ack()  # acks_late: when the task is done

        # Acknowledged in Redis: no other worker will run it again.
        assert not fresh.default_channel.client.hexists("unacked", tag)
        fresh.default_channel.client.delete(queue)


def test_an_ack_redis_failed_does_not_keep_a_prefetch_slot(broker_url, monkeypatch):
    queue = f"test-broker-{uuid.uuid4().hex}"
    conn = Connection(broker_url, transport=TRANSPORT)
    simple = conn.SimpleQueue(queue)
    simple.consumer.qos(prefetch_count=1)
    simple.put({"task": "x"})
    message = simple.get(timeout=5)
    qos = conn.default_channel.qos
    assert not qos.can_consume()  # its one slot is taken

    def frozen(*args, **kwargs):
        raise redis.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(qos, "_remove_from_indices", frozen)
    with pytest.raises(redis.TimeoutError):
        message.ack()

    assert qos.can_consume(), "the failed ack kept its slot: the worker takes less work"
    with Connection(broker_url) as fresh:  # still in Redis, for another worker, later
        assert fresh.default_channel.client.hexists("unacked", message.delivery_tag)
        fresh.default_channel.client.hdel("unacked", message.delivery_tag)
        fresh.default_channel.client.delete(queue)
