"""A no-op Dramatiq actor for the raw message limit, loaded by the Dramatiq CLI:
`python -m dramatiq bench.noop_worker`. Each message appends "sent done" to a file (one small
O_APPEND write), which is how the harness learns when the last one was processed.

It consumes through the product's broker class (its consumer: acks bound to their channel and
handed over together) with Dramatiq's default middleware and nothing of the product's: the
limit is what moving the messages costs on the transport the workers use."""

from __future__ import annotations

import os
import time

import dramatiq

from messaging.queues import CLASSIC
from messaging.rabbitmq import QueueTypedRabbitmqBroker

QUEUE = os.environ.get("BENCH_NOOP_QUEUE", "bench_noop")
broker = QueueTypedRabbitmqBroker(
    queue_type=CLASSIC, url=os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
)
dramatiq.set_broker(broker)
_out = os.open(os.environ.get("BENCH_NOOP_OUT", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


@dramatiq.actor(queue_name=QUEUE, actor_name="noop", max_retries=0)
def noop(sent: float, pad: str = "") -> None:
    os.write(_out, f"{sent} {time.time()}\n".encode())
