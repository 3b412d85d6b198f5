"""Batched actors: the waiting messages of an actor applied in one call, on one worker thread.

Dramatiq gives every message a worker thread of its own. For many small messages that share a
transaction (events), each one then waited on its thread for the batch it joined, and cost three
thread hand-offs: the queue waking a thread, the thread waking the batch's leader, the leader
waking it back. Here an actor declared with `batch=FUNCTION` is applied together instead:

- The worker thread that takes one of its messages hands it in and goes back for the next one.
- At most `concurrency` batches of an actor run at once in a process (one by default: on two
  cores, two made smaller batches for more CPU an event); while one commits, the messages of the
  next gather. The thread that finds a free place leads:
  under load it waits a moment (`linger`) for as many messages as the last batch had, then runs,
  for each message in order, the middleware's before hooks, FUNCTION once for them all, then the
  after hooks and the ack (or nack). Retries, dead-lettering and metrics see each message as
  they do any other (a message's duration includes its batch). A lone message waits for company
  at most `linger`, and not at all when the last batch was lone too.
- FUNCTION takes the messages' keyword arguments and returns one outcome each: None, or the
  exception that message fails with. When it raises, every message of the batch is applied alone
  through the actor, so only the one that fails is retried or dead-lettered. A batched actor's
  results are not kept (its after hooks see None).

Dramatiq has no setting for its worker thread class: the middleware gives each worker its thread
factory, and its own gatherings, before the worker boots (pinned by a test against the installed
Dramatiq).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.errors import RateLimitExceeded, Retry
from dramatiq.middleware import SkipMessage
from dramatiq.worker import WorkerThread

log = structlog.get_logger(__name__)

T = TypeVar("T")
Outcome = BaseException | None
BatchFunction = Callable[[Sequence[Mapping[str, Any]]], Sequence[Outcome]]


class Gathering(Generic[T]):
    """One actor's messages handed in and not yet taken into a batch, and who leads."""

    def __init__(self, *, concurrency: int, max_batch: int, linger: float) -> None:
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._linger = linger
        self._arrived = threading.Condition(threading.Lock())
        self._waiting: list[T] = []
        self._leaders = 0
        self._previous = 0  # the size of the last batch taken

    def hand_in(self, message: T) -> bool:
        """True when the caller is to lead (take batches until none is left)."""
        with self._arrived:
            self._waiting.append(message)
            self._arrived.notify()
            if self._leaders < self._concurrency:
                self._leaders += 1
                return True
            return False

    def next_batch(self) -> list[T]:
        """For a leader: the next batch; an empty one means it leads no longer."""
        with self._arrived:
            wanted = min(self._previous, self._max_batch)
            if self._linger > 0 and 0 < len(self._waiting) < wanted:
                self._arrived.wait_for(lambda: len(self._waiting) >= wanted, timeout=self._linger)
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            if batch:
                self._previous = len(batch)
            else:
                self._leaders -= 1
            return batch


class BatchedActors(dramatiq.Middleware):
    """Declares the `batch` actor option and gives each worker threads that honour it."""

    def __init__(self, *, concurrency: int = 1, max_batch: int = 128, linger: float = 0.010) -> None:
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._linger = linger

    @property
    def actor_options(self) -> set[str]:
        return {"batch"}

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # The worker starts its threads through this method, right after this hook. A batch is
        # acked through its worker's consumers: each worker gathers its own messages.
        gatherings = Gatherings(
            partial(Gathering, concurrency=self._concurrency, max_batch=self._max_batch, linger=self._linger)
        )
        worker._add_worker = partial(_add_batching_thread, worker, gatherings)  # type: ignore[method-assign]


class Gatherings:
    """One worker's gathering per batched actor."""

    def __init__(self, make: Callable[[], Gathering[MessageProxy]]) -> None:
        self._make = make
        self._by_actor: dict[str, Gathering[MessageProxy]] = {}
        self._lock = threading.Lock()

    def of(self, actor_name: str) -> Gathering[MessageProxy]:
        with self._lock:
            found = self._by_actor.get(actor_name)
            if found is None:
                found = self._by_actor[actor_name] = self._make()
            return found


def _add_batching_thread(worker: dramatiq.Worker, gatherings: Gatherings) -> None:
    thread = BatchingWorkerThread(
        gatherings=gatherings,
        broker=worker.broker,
        consumers=worker.consumers,
        work_queue=worker.work_queue,
        worker_timeout=worker.worker_timeout,
    )
    thread.start()
    worker.workers.append(thread)


class BatchingWorkerThread(WorkerThread):
    """A Dramatiq worker thread that hands a batched actor's messages to its gathering."""

    def __init__(self, *, gatherings: Gatherings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gatherings = gatherings
        self._open: set[int] = set()  # the batch's messages not yet acked or nacked

    def process_message(self, message: MessageProxy) -> None:
        function = self._batch_function(message)
        if function is None:
            super().process_message(message)
            return
        gathering = self._gatherings.of(message.actor_name)
        if not gathering.hand_in(message):
            return  # a leader takes it; its work-queue item is done once it is acked
        while batch := gathering.next_batch():
            try:
                self._process_batch(function, batch)
            except BaseException as exc:
                # Interrupted (a time limit): every message not yet acked or nacked ends with it,
                # and this thread leads on, never leaving messages waiting behind it.
                self._end_open(batch, exc)

    def _batch_function(self, message: MessageProxy) -> BatchFunction | None:
        if message.args:  # the batch function takes keyword arguments only
            return None
        actor = self.broker.actors.get(message.actor_name)
        return None if actor is None else actor.options.get("batch")

    def _process_batch(self, function: BatchFunction, batch: list[MessageProxy]) -> None:
        self._open = {id(message) for message in batch}
        ready = [message for message in batch if self._before(message)]
        outcomes = self._apply(function, ready)
        for message, outcome in zip(ready, outcomes, strict=True):
            self._finish(message, outcome)

    def _end_open(self, batch: list[MessageProxy], exc: BaseException) -> None:
        for message in batch:
            if id(message) in self._open:
                self._finish(message, exc)

    def _before(self, message: MessageProxy) -> bool:
        """The before hooks; False when the message ended there (skipped, failed or refused)."""
        try:
            self.broker.emit_before("process_message", message)
        except SkipMessage as exc:
            self._open.discard(id(message))
            if message.failed:
                message.stuff_exception(exc)
            self.logger.warning("Message %s was skipped.", message)
            self.broker.emit_after("skip_message", message)
            self._post_process(message)
            return False
        except BaseException as exc:
            self._finish(message, exc)
            return False
        if message.failed:
            self._finish(message, None)
            return False
        return True

    def _apply(self, function: BatchFunction, ready: list[MessageProxy]) -> list[Outcome]:
        if not ready:
            return []
        # Each message's before hooks bound it to the log context; the batch is none of them.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(actor=ready[0].actor_name, batch=len(ready))
        try:
            outcomes = list(function([message.kwargs for message in ready]))
        except Exception as exc:
            if len(ready) > 1:
                log.warning("batch.applied_one_at_a_time", messages=len(ready), error=type(exc).__name__)
            return [self._alone(message) for message in ready]
        if len(outcomes) != len(ready):
            raise RuntimeError(f"the batch returned {len(outcomes)} outcomes for {len(ready)} messages")
        return outcomes

    def _alone(self, message: MessageProxy) -> Outcome:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(message_id=message.message_id, actor=message.actor_name)
        try:
            self.broker.get_actor(message.actor_name)(*message.args, **message.kwargs)
        except Exception as exc:
            return exc
        return None

    def _finish(self, message: MessageProxy, outcome: Outcome) -> None:
        """The after hooks with the message's outcome, as Dramatiq's own thread runs them."""
        self._open.discard(id(message))
        try:
            if outcome is None:
                self.broker.emit_after("process_message", message, result=None)
                return
            message.stuff_exception(outcome)
            self._log_failure(message, outcome)
            try:
                raise outcome  # the retry middleware reads the traceback of the exception in hand
            except BaseException:
                self.broker.emit_after("process_message", message, exception=outcome)
        finally:
            self._post_process(message)

    def _log_failure(self, message: MessageProxy, outcome: BaseException) -> None:
        actor = self.broker.actors.get(message.actor_name)
        throws = message.options.get("throws") or (actor and actor.options.get("throws"))
        if isinstance(outcome, RateLimitExceeded):
            self.logger.debug("Rate limit exceeded in message %s: %s.", message, outcome)
        elif throws and isinstance(outcome, throws):
            expected = type(outcome).__name__
            self.logger.info("Failed to process message %s with expected exception %s.", message, expected)
        elif not isinstance(outcome, Retry):
            self.logger.error(
                "Failed to process message %s with unhandled exception.", message, exc_info=outcome
            )

    def _post_process(self, message: MessageProxy) -> None:
        try:
            self.consumers[message.queue_name].post_process_message(message)
        finally:
            self.work_queue.task_done()
            message.clear_exception()
