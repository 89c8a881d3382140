"""
kombu's Redis transport, as Celery uses it here (`CELERY_BROKER_TRANSPORT`), with
one fix that keeps a worker alive through a Redis restart.

When the connection to Redis breaks, the worker's consumer collects the broken
connection (which closes its transport: `transport.client = None`), then closes
it. Closing its channel gives back the messages the worker holds unacknowledged
(reserved, waiting for their ETA, or running with `acks_late`), and that needs a
Redis client; kombu makes one from `transport.client`, which is gone by then:
`AttributeError: 'NoneType' object has no attribute 'hostname'` from
`restore_unacked`, which Celery takes as unrecoverable, and the worker exits.
The same happens to a task that ends after the reconnection and acknowledges its
message through the old channel.

Here a channel keeps the connection parameters it was opened with, and a channel
whose transport was closed uses them for these last steps: the messages are
given back (or acknowledged) as kombu means them to be, and the worker goes on to
reconnect. Should Redis still be down, that is a connection error, which Celery
handles: the messages stay in Redis's unacknowledged set, from which any worker
restores them after `visibility_timeout`.

An acknowledgement that fails (Redis frozen or gone at that moment) left the
message counted among those the worker holds, for good: each such failure took
one of the worker's prefetch slots until it took no task at all. Here the message
is forgotten by the worker all the same; it stays in Redis's unacknowledged set,
and is run again once after `visibility_timeout`, like the task of a dead worker.

The worker then tries to reconnect every 2 s, then 4, 6... up to 30 s between two
tries (kombu's defaults, which Celery's consumer keeps): after a long outage, the
worker would only notice Redis is back up to 30 s later. `AMQP` (the Celery app's
`amqp`) makes its connections try again every second, then every
`RECONNECT_MAX_SECONDS` at most, so that work resumes within that long.
"""

from celery.app import amqp
from kombu import Connection
from kombu.transport import redis, virtual

RECONNECT_MAX_SECONDS = 5


class QoS(redis.QoS):
    def ack(self, delivery_tag):
        try:
            super().ack(delivery_tag)
        except self.channel.connection.connection_errors:
            virtual.QoS.ack(self, delivery_tag)  # no longer held here: see above
            raise  # Celery logs it


class Channel(redis.Channel):
    QoS = QoS
    _opened_with: dict | None = None

    def _connparams(self, asynchronous=False):
        if self.connection.client is None and self._opened_with is not None:
            return dict(self._opened_with)  # closed after a connection loss: see above
        params = super()._connparams(asynchronous=asynchronous)
        if not asynchronous:
            self._opened_with = dict(params)
        return params


class Transport(redis.Transport):
    Channel = Channel


class PromptConnection(Connection):
    """kombu's Connection, retrying to connect at least every RECONNECT_MAX_SECONDS."""

    def ensure_connection(self, errback=None, max_retries=None, interval_start=2,
                          interval_step=2, interval_max=30, *args, **kwargs):
        return super().ensure_connection(
            errback, max_retries, min(interval_start, 1), min(interval_step, 1),
            min(interval_max, RECONNECT_MAX_SECONDS), *args, **kwargs,
        )


class AMQP(amqp.AMQP):
    Connection = PromptConnection
