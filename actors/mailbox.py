"""An actor's bounded mailbox and the worker loop(s) that feed it to the handlers.

Each queued item is ``(msg, reply_to, sender)``: ``reply_to`` (:data:`~zactor.replies.ReplyTo`) is ``None`` for a
tell, else the ask's :class:`~zactor.replies.LocalAsk` or :class:`~zactor.replies.RemoteAsk`, answered through its
``answer`` method; ``sender`` (a :class:`~zactor.actor.Sender`, ``None`` for a local message) is what
``ctx.sender`` gives the handler, set in the worker's context as the handler starts. Workers are long-lived tasks
(one per unit of ``max_concurrency``) that take items in arrival order; no task is created per message. Control
never waits in the queue: a CANCEL finds its ask by ``reply_to`` and drops or cancels it at once, and closing the
mailbox fails what is queued at once (a lane of its own, as Proto.Actor's system messages have).

A message that arrives from the transport while a worker is idle and nothing is queued starts at once, inside the
receive callback, on Python 3.12 and newer: it runs in an eager task (``Task(..., eager_start=True)``) that borrows
the idle worker's context and name, up to the handler's first suspension, and its reply leaves before the callback
returns, saving a wake-up of the worker per message. ``asyncio.current_task()``, ``asyncio.timeout()`` and context
variables behave as in the worker. A handler that suspends finishes in that task, which then hands the slot back
(waking the worker when messages queued meanwhile), so order and ``max_concurrency`` hold as before. On Python
3.11, which has no eager tasks, the idle worker is woken instead. A synchronous handler (``def``) of an idle actor
runs right in the receive callback on every version, in the worker's context and holding its slot, in no task.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextvars
import logging
import sys
import time
import traceback
from collections.abc import Callable
from types import AsyncGeneratorType
from typing import Any

from zactor.actor import SENDER, Actor, Context, Sender, check_reply, handlers_of, sync_handlers
from zactor.deathwatch import Watchers
from zactor.errors import ActorNotFound, HandlerNotFound, MailboxFull, RemoteError
from zactor.replies import REFUSALS, ReplyTo
from zactor.streams import pump
from zactor.supervision import RestartPolicy
from zactor.transport.codec import describe_type, is_message
from zactor.transport.ratelog import RateLimitedLogger

__all__ = ["HandlerStats", "LATENCY_BUCKETS_S", "Mailbox"]

log = logging.getLogger("zactor.mailbox")

_EAGER = sys.version_info >= (3, 12)  # Task(..., eager_start=True) runs a task's first step at once


#: Upper bounds of the handler latency buckets, in seconds (the last bucket is everything above).
LATENCY_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class HandlerStats:
    """What an actor's handlers did: counts by kind, failures, and a latency histogram (for metrics).

    Attributes:
        asks: asks handled. tells: tells handled. failures: handlers that raised.
        buckets: handler runs per latency bucket (``LATENCY_BUCKETS_S``, then one for everything above).
        seconds: the total handler time, in seconds.
    """

    __slots__ = ("asks", "tells", "failures", "buckets", "seconds")

    def __init__(self) -> None:
        self.asks = self.tells = self.failures = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.seconds = 0.0

    def record(self, is_ask: bool, seconds: float) -> None:
        """Count one handler run of ``seconds``."""
        if is_ask:
            self.asks += 1
        else:
            self.tells += 1
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.seconds += seconds


def _call_as(sender: Sender | None, call: Callable[[Any, Context], Any], msg: Any, ctx: Context) -> Any:
    """``call(msg, ctx)`` with ``sender`` as ``ctx.sender`` (run inside a worker's context)."""
    SENDER.set(sender)
    return call(msg, ctx)


class Idle:
    """A worker waiting for work: its waiter future, its task, the task's name and the context it runs in."""

    __slots__ = ("waiter", "task", "name", "context")

    def __init__(self, waiter: asyncio.Future[None], task: asyncio.Task[None], context: contextvars.Context) -> None:
        self.waiter = waiter
        self.task = task
        self.name = task.get_name()
        self.context = context


class Mailbox:
    """The queue and workers of one registered actor.

    Args:
        name: the actor's registered name.
        actor: the actor instance.
        ctx: the context handed to its handlers.
        capacity: the most messages queued at once.

    Raises:
        TypeError: the actor's handlers are malformed (see :func:`actors.actor.handlers_of`).
    """

    def __init__(self, name: str, actor: Actor, ctx: Context, capacity: int) -> None:
        self.name = name
        self.actor = actor
        self.ctx = ctx
        ctx.mailbox = self
        self.capacity = actor.mailbox_size or capacity
        self._handlers = handlers_of(actor)
        self._sync = sync_handlers(self._handlers)  # run at once in the receive callback when the actor is idle
        self._queue: collections.deque[tuple[Any, ReplyTo, Sender | None]] = collections.deque()
        self._idle: list[Idle] = []
        self._workers: list[asyncio.Task[None]] = []
        self._borrowed: dict[asyncio.Task[None], asyncio.Task[None]] = {}  # eager task -> the worker it stands in for
        self._closed = False
        self._failure_log = RateLimitedLogger(ctx.log)
        self._running: dict[ReplyTo, asyncio.Task[Any]] = {}  # the reply_to of each ask being handled -> its worker
        self._cancelling: set[ReplyTo] = set()
        self._paused = False
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start
        self._quiet: asyncio.Event | None = None
        self.crash_policy: RestartPolicy | None = None
        self.on_crash: Callable[[BaseException], None] | None = None
        self.watchers = Watchers()
        self.cancelled = 0
        self.stats = HandlerStats()

    def replace(self, actor: Actor) -> None:
        """Hand the following messages to ``actor``, a fresh instance (a restart).

        Raises:
            TypeError: its handlers are malformed.
        """
        handlers = handlers_of(actor)
        self._handlers.clear()  # in place: the workers hold this dict
        self._handlers.update(handlers)
        self._sync = sync_handlers(handlers)
        self.actor = actor

    async def stop_actor(self) -> None:
        """Run the current instance's ``on_stop``; its failure is logged, not raised."""
        try:
            await self.actor.on_stop(self.ctx)
        except Exception:
            log.exception("actor %r: on_stop failed", self.name)

    def pause(self) -> None:
        """Stop handing queued messages to the actor; messages still queue (up to ``capacity``)."""
        self._paused = True

    async def quiesce(self, timeout_s: float) -> bool:
        """Wait, after :meth:`pause`, until no handler runs (at most ``timeout_s`` seconds); returns whether none
        does."""
        if self._all_idle():
            return True
        self._quiet = asyncio.Event()
        try:
            async with asyncio.timeout(timeout_s):
                await self._quiet.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._quiet = None

    def resume(self) -> None:
        """Hand queued messages to the actor again, waking a worker for each."""
        self._paused = False
        for _ in range(len(self._queue)):
            self._wake_one()

    def _all_idle(self) -> bool:
        return len({idle.task for idle in self._idle if not idle.waiter.done()}) == len(self._workers)

    def start(self) -> None:
        """Start the worker task(s), each in a context of its own."""
        loop = self._loop = asyncio.get_running_loop()
        for i in range(max(1, self.actor.max_concurrency)):
            context = contextvars.copy_context()
            name = f"zactor-actor-{self.name}-{i}"
            self._workers.append(loop.create_task(self._work(context), name=name, context=context))

    def put(self, msg: Any, reply_to: ReplyTo, *, inline: bool = False, sender: Sender | None = None) -> None:
        """Queue one message; with ``inline`` (a callback outside any task, such as the transport's receive), an
        idle actor starts the handler at once on Python 3.12 and newer, up to its first suspension (see the module
        docstring). ``sender``: who sent it (``None``: this node).

        Raises:
            MailboxFull: ``capacity`` messages are queued already.
            ActorNotFound: the actor is being removed.
        """
        if self._closed:
            raise ActorNotFound(self.name, self.ctx.node_id)
        queue = self._queue
        if len(queue) >= self.capacity:
            raise MailboxFull(self.name, self.capacity)
        if self._paused:
            queue.append((msg, reply_to, sender))
            return
        idle = self._idle
        if idle and not queue:
            worker = idle.pop()
            if not worker.waiter.done():
                if inline and asyncio.current_task(self._loop) is None:  # a receive callback: start at once
                    call = self._sync.get(type(msg))
                    if call is not None:
                        self._run_sync(worker, call, msg, reply_to, sender)
                        return
                    if _EAGER:
                        self._start_eager(worker, msg, reply_to, sender)
                        return
                queue.append((msg, reply_to, sender))
                worker.waiter.set_result(None)
                return
        queue.append((msg, reply_to, sender))
        self._wake_one()

    def put_system(self, msg: Any) -> bool:
        """Queue a tell from the node itself (a ``Terminated``) past the mailbox's bound, so that no notice is lost
        to a full mailbox. Returns False when the mailbox is closed."""
        if self._closed:
            return False
        self._queue.append((msg, None, None))
        if not self._paused:
            self._wake_one()
        return True

    def _wake_one(self) -> None:
        idle = self._idle
        while idle:
            waiter = idle.pop().waiter
            if not waiter.done():
                waiter.set_result(None)
                return

    def __len__(self) -> int:
        return len(self._queue)

    def cancel(self, reply_to: ReplyTo) -> bool:
        """Abandon the ask answered through ``reply_to``: drop it if still queued, cancel its handler if running;
        nothing is answered. Returns whether it was found."""
        for i, (_, queued, _) in enumerate(self._queue):
            if queued == reply_to:
                del self._queue[i]
                self.cancelled += 1
                return True
        worker = self._running.get(reply_to)
        if worker is None:
            return False
        self._cancelling.add(reply_to)
        worker.cancel()
        return True

    def cancel_peer(self, peer: bytes) -> int:
        """Abandon every ask from the remote ``peer`` (a routing identity), queued or running, as :meth:`cancel`
        does; its tells are left. Returns how many asks were abandoned."""
        asks = [reply_to for _, reply_to, _ in self._queue if reply_to is not None and reply_to.peer == peer]
        asks += [reply_to for reply_to in self._running if reply_to is not None and reply_to.peer == peer]
        return sum(self.cancel(reply_to) for reply_to in asks)

    def _run_sync(
        self, worker: Idle, call: Callable[[Any, Context], Any], msg: Any, reply_to: ReplyTo, sender: Sender | None
    ) -> None:
        """Run a synchronous handler at once, in ``worker``'s context and holding its slot, and answer."""
        started = time.perf_counter()
        error: BaseException | None = None
        result = None
        try:
            result = worker.context.run(_call_as, sender, call, msg, self.ctx)
            if result is not None and not is_message(result):
                check_reply(result)
        except REFUSALS as exc:
            error = exc
        except Exception as exc:
            error = self._handler_failed(exc, msg, tell=reply_to is None)
        finally:
            self.stats.record(reply_to is not None, time.perf_counter() - started)
            self._give_back(worker)
        self._complete(reply_to, result, error)

    def _start_eager(self, worker: Idle, msg: Any, reply_to: ReplyTo, sender: Sender | None) -> None:
        """Run ``msg``'s handler in an eager task in ``worker``'s stead, in its context and under its name."""
        coro = self._serve(msg, reply_to, sender, worker)
        task = asyncio.Task(
            coro,
            loop=self._loop,
            name=worker.name,
            context=worker.context,
            eager_start=True,  # type: ignore[call-arg]
        )  # eager_start: Python 3.12+
        if not task.done():
            self._borrowed[task] = worker.task
            task.add_done_callback(self._borrowed.pop)

    def _give_back(self, worker: Idle) -> None:
        """A handler run in ``worker``'s stead (an eager task's, or a synchronous one's) is done with its slot: wake
        the worker if messages queued meanwhile (or the mailbox closed), else it is idle again."""
        if worker.waiter.done():
            return
        if self._closed or (self._queue and not self._paused):
            worker.waiter.set_result(None)
        else:
            self._idle.append(worker)
            if self._quiet is not None and self._all_idle():
                self._quiet.set()

    async def _work(self, context: contextvars.Context) -> None:
        queue = self._queue
        loop = asyncio.get_running_loop()
        worker = asyncio.current_task()
        if worker is None:
            raise RuntimeError("a mailbox worker runs as a task (see Mailbox.start)")
        idle = Idle(loop.create_future(), worker, context)  # one record per worker, a new waiter each time
        while True:
            if queue and not self._paused:
                await self._serve(*queue.popleft())
                continue
            if self._closed:
                return
            idle.waiter = waiter = loop.create_future()
            self._idle.append(idle)
            if self._quiet is not None and self._all_idle():
                self._quiet.set()
            await waiter

    async def _serve(self, msg: Any, reply_to: ReplyTo, sender: Sender | None, lent: Idle | None = None) -> None:
        """Run ``msg``'s handler in the current task and answer; ``lent``: the idle worker whose slot an eager task
        holds, given back at the end."""
        handle = self._handlers.get(type(msg))
        if handle is None:
            if lent is not None:
                self._give_back(lent)
            self._complete(reply_to, None, HandlerNotFound(self.name, describe_type(msg), self.ctx.node_id))
            return
        started = time.perf_counter()
        SENDER.set(sender)
        running = self._running
        task = None
        error: BaseException | None = None
        result = None
        if reply_to is not None:
            task = asyncio.current_task(self._loop)
            assert task is not None  # a mailbox serves in its workers' tasks, or in eager ones
            running[reply_to] = task
        try:
            result = await handle(msg, self.ctx)
            if result.__class__ is AsyncGeneratorType:  # a streaming handler: its items go out under credit
                await pump(result, reply_to)
                result = None
            elif result is not None and not is_message(result):
                check_reply(result)
        except REFUSALS as exc:  # the handler refuses this request: the caller gets the typed error
            error = exc
        except asyncio.CancelledError:
            if reply_to not in self._cancelling:
                raise
            self.cancelled += 1
            return
        except Exception as exc:
            error = self._handler_failed(exc, msg, tell=reply_to is None)
        finally:
            self.stats.record(task is not None, time.perf_counter() - started)
            if task is not None:
                running.pop(reply_to, None)
                if reply_to in self._cancelling:  # this ask's cancel is spent
                    self._cancelling.discard(reply_to)
                    task.uncancel()
            if lent is not None:
                self._give_back(lent)
        self._complete(reply_to, result, error)

    def _complete(self, reply_to: ReplyTo, result: Any, error: BaseException | None) -> None:
        """Answer an ask (a tell gets nothing)."""
        if reply_to is not None:
            reply_to.answer(result, error, self.name)

    async def close(self, timeout_s: float, error: ActorNotFound | None = None) -> None:
        """Refuse new messages, fail the queued asks and the running streams with ``error`` (default:
        ``ActorNotFound``; a stream's handler is cancelled), and let the other running handlers finish.

        Handlers still running after ``timeout_s`` seconds are cancelled.
        """
        self._closed = True
        failure = error or ActorNotFound(self.name, self.ctx.node_id)
        while self._queue:
            _, reply_to, _ = self._queue.popleft()
            self._complete(reply_to, None, failure)
        for reply_to in [r for r in self._running if hasattr(r, "put")]:  # a stream may never end: it stops now
            self.cancel(reply_to)
            self._complete(reply_to, None, failure)
        for idle in self._idle:
            if not idle.waiter.done():
                idle.waiter.set_result(None)
        self._idle.clear()
        standing_in = set(self._borrowed.values())
        tasks = [*self._workers, *self._borrowed]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                if task not in standing_in:  # a worker whose slot an eager task holds runs no handler itself
                    log.warning("actor %r: a handler outlived the stop timeout and was cancelled", self.name)
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        self._workers.clear()

    def _handler_failed(self, exc: BaseException, msg: Any, *, tell: bool) -> RemoteError:
        """Log a handler's failure (rate-limited, with its traceback) and describe it for the caller; a crash under
        the actor's restart policy pauses the mailbox at once and tells the supervisor on the next loop turn."""
        self.stats.failures += 1
        policy = self.crash_policy
        if policy is not None and self.on_crash is not None and not self._paused and policy.crashes_on(exc):
            self._paused = True
            asyncio.get_running_loop().call_soon(self.on_crash, exc)
        what = "tell" if tell else "ask"
        self._failure_log.log(
            logging.ERROR if tell else logging.WARNING,
            "actor %r: handler for %s failed on %s %s",
            self.name,
            type(msg).__qualname__,
            "a" if tell else "an",
            what,
            exc_info=True,
        )
        text = "".join(traceback.format_exception(exc))
        return RemoteError(type(exc).__name__, str(exc), self.ctx.node_id, self.name, text)
