"""A persistent pool of worker processes evaluating large batches of documents for the daemon
(cold start, audits, a revision whose policies changed).

The daemon is threaded, so it may not fork (`forking.py` is for single-threaded callers):
its workers are started by the `forkserver` context (a clean process that imports this
module once and forks the workers from it), or `spawn` where there is no forkserver. The
pool starts at its first large evaluation and lives until `close`. Each worker compiles a
bundle once: the bundle (pickled without engines, as `Bundle` always pickles) is sent to a
worker once per bundle, keyed by a number the pool gives each bundle it sees, and the
worker keeps the last few, so a revision that kept its predecessor's bundle reuses the
worker's engines. Documents go to a worker in chunks as compact JSON bytes, with the
observed state of each and the time to stamp on the decisions (the caller's clock, read
when the chunk is sent); decisions come back in `parallel.encode`'s compact form, with the
input texts they were made on (for the decision log) when asked for.

A worker says when it is up and then has one chunk at a time, so neither side ever blocks
writing while the other does. While workers are still coming up (the first batch starts
them: a fresh interpreter each, which takes a while on a busy machine), the calling thread
evaluates chunks itself, so a batch never waits for the pool to start. A worker that dies
(killed, out of memory) has its chunk given to another, and is replaced, with a warning;
when workers keep dying, the rest is evaluated in the calling thread. Batches smaller than
`min_batch` are evaluated in the calling thread by the caller, at no latency cost: `worth`
tells which.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import marshal
import multiprocessing
import pickle
import queue
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import connection, context
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any, cast

from reconciler import forking
from reconciler.clock import Clock
from reconciler.policy import parallel
from reconciler.policy.bundle import Bundle
from reconciler.policy.decisions import Decision
from reconciler.policy.evaluate import Evaluator
from reconciler.specs.snapshot import Document

log = logging.getLogger(__name__)
KEPT_BUNDLES = 2
"""Bundles a worker keeps compiled: the current revision's and the one before it."""
_BUNDLE, _CHUNK, _READY = b"B", b"C", b"R"
_KEY = 8  # bytes of the bundle key in front of a bundle message


@dataclass(frozen=True, kw_only=True)
class Evaluated:
    """A batch's decisions in document order, and the input texts they were made on, by
    digest (only when `keep_inputs` was asked for)."""

    decisions: list[Decision]
    inputs: dict[str, str]


@dataclass(kw_only=True)
class _Worker:
    process: Any  # multiprocessing's process object of the chosen context
    conn: Connection
    bundles: list[int] = field(default_factory=list)  # what it keeps, oldest first
    chunk: int | None = None  # the chunk it is evaluating
    ready: bool = False  # it said so: it is up and waiting for work


class EvaluationPool:
    """`workers` processes evaluating batches of at least `min_batch` documents; safe to call
    from several threads (one batch at a time)."""

    def __init__(self, *, workers: int, min_batch: int = parallel.MIN_RESOURCES) -> None:
        self.workers, self.min_batch = workers, min_batch
        self._lock = threading.Lock()
        self._running: list[_Worker] = []
        self._keys: weakref.WeakKeyDictionary[Bundle, int] = weakref.WeakKeyDictionary()
        self._numbers = itertools.count(1)
        self._pickled: tuple[int, bytes] | None = None
        self._closed = False
        self._coming = 0  # workers being started
        self._arrivals: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._starters: list[threading.Thread] = []
        self.batches = 0  # batches evaluated by the workers
        methods = multiprocessing.get_all_start_methods()
        self._ctx = cast(
            "context.ForkServerContext | context.SpawnContext",
            multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn"),
        )
        if self._ctx.get_start_method() == "forkserver":
            # The server imports the evaluation code once; each worker forked from it has it.
            self._ctx.set_forkserver_preload([__name__])

    def worth(self, count: int) -> bool:
        """Whether a batch of `count` documents goes to the pool (else: evaluate in-process)."""
        return self.workers > 1 and count >= self.min_batch and not self._closed

    def pids(self) -> list[int]:
        """The worker processes' ids (none before the first batch or after `close`)."""
        with self._lock:
            self._take_arrivals()
            return [w.process.pid for w in self._running]

    def evaluate(
        self,
        bundle: Bundle,
        docs: Sequence[Document],
        *,
        observed: Mapping[str, Any],
        revision: str | None,
        clock: Clock,
        gate: bool = False,
        keep_inputs: bool = False,
    ) -> Evaluated:
        """What `Evaluator.evaluate(doc, observed=observed.get(doc.key), gate=gate)` gives
        for each of `docs`, in order, evaluated by the workers."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the evaluation pool is closed")
            self._start()
            key = self._key_of(bundle)
            size = max(1, -(-len(docs) // (self.workers * parallel.CHUNKS_PER_WORKER)))
            chunks = [docs[i : i + size] for i in range(0, len(docs), size)]
            batch = _Batch(
                key=key,
                chunks=chunks,
                observed=observed,
                revision=revision,
                clock=clock,
                gate=gate,
                keep_inputs=keep_inputs,
            )
            self._run(batch, bundle)
            self.batches += 1
            return batch.result()

    def close(self) -> None:
        """Stop every worker (they finish at the end of their input) and wait for them."""
        with self._lock:
            self._closed = True
        for starter in self._starters:
            starter.join()
        with self._lock:
            self._take_arrivals()
            running, self._running = self._running, []
        for w in running:
            w.conn.close()
        for w in running:
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()

    # the caller's side

    def _start(self) -> None:
        """Start the missing workers on another thread (starting one waits for the
        forkserver, itself started by the first); they join as they arrive."""
        missing = self.workers - len(self._running) - self._coming
        if missing > 0:
            self._coming += missing
            starter = threading.Thread(target=self._arrive, args=(missing,), daemon=True)
            self._starters = [t for t in self._starters if t.is_alive()] + [starter]
            starter.start()

    def _arrive(self, count: int) -> None:
        for _ in range(count):
            try:
                self._arrivals.put(self._spawn())
            except Exception:
                log.exception("an evaluation worker could not be started")
                self._arrivals.put(None)

    def _take_arrivals(self) -> None:
        while not self._arrivals.empty():
            w = self._arrivals.get_nowait()
            self._coming -= 1
            if w is not None:
                self._running.append(w)

    def _spawn(self) -> _Worker:
        ours, theirs = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_serve, args=(theirs,), daemon=True, name="evaluator")
        process.start()
        theirs.close()
        return _Worker(process=process, conn=ours)

    def _key_of(self, bundle: Bundle) -> int:
        key = self._keys.get(bundle)
        if key is None:
            key = self._keys[bundle] = next(self._numbers)
        return key

    def _bundle_message(self, key: int, bundle: Bundle) -> bytes:
        if self._pickled is None or self._pickled[0] != key:
            self._pickled = (
                key,
                _BUNDLE + key.to_bytes(_KEY, "big") + forking.PICKLE.encode([bundle]),
            )
        return self._pickled[1]

    def _run(self, batch: _Batch, bundle: Bundle) -> None:
        deaths = 0
        while not batch.done():
            self._take_arrivals()
            for w in self._running:
                if w.ready and w.chunk is None and batch.todo:
                    self._send(w, batch, bundle)
            waiting = [w for w in self._running if w.chunk is not None or not w.ready]
            starting = self._coming > 0 or any(not w.ready for w in self._running)
            if not waiting and not starting:  # workers died more often than worth replacing
                batch.finish_here(bundle)
                return
            timeout = None
            if starting and batch.todo:  # this thread works while workers come up
                batch.do_here(batch.todo.popleft(), bundle)
                timeout = 0.0
            if not waiting:
                continue
            ready = connection.wait(
                [w.conn for w in waiting] + [w.process.sentinel for w in waiting], timeout
            )
            for w in waiting:
                answered = w.conn in ready or w.process.sentinel in ready
                if answered and not self._receive(w, batch):
                    deaths += 1
                    self._replace(w, batch, allowed=deaths <= 2 * self.workers)

    def _send(self, w: _Worker, batch: _Batch, bundle: Bundle) -> None:
        index = batch.todo.popleft()
        w.chunk = index
        try:
            if batch.key not in w.bundles:
                w.conn.send_bytes(self._bundle_message(batch.key, bundle))
                w.bundles = [*w.bundles, batch.key][-KEPT_BUNDLES:]
            w.conn.send_bytes(batch.message(index))
        except OSError:  # it died; its sentinel says so at the next wait
            pass

    def _receive(self, w: _Worker, batch: _Batch) -> bool:
        """Takes the worker's answer; False when it died without giving one."""
        try:
            if not w.conn.poll():
                return False
            message = w.conn.recv_bytes()
        except (EOFError, OSError):
            return False
        if not w.ready:
            w.ready = message == _READY
            return w.ready
        assert w.chunk is not None
        batch.take(w.chunk, message)
        w.chunk = None
        return True

    def _replace(self, w: _Worker, batch: _Batch, *, allowed: bool) -> None:
        if w.chunk is not None:
            batch.todo.appendleft(w.chunk)
        w.process.join(timeout=5)
        doing = "starting" if w.chunk is None else f"evaluating chunk {w.chunk}"
        log.warning(
            "evaluation worker %s died (exit code %s) %s of %d; %s",
            w.process.pid,
            w.process.exitcode,
            doing,
            len(batch.chunks),
            "its chunk goes to another worker, and a new worker replaces it"
            if allowed
            else "workers keep dying: the rest is evaluated here",
        )
        w.conn.close()
        self._running.remove(w)
        if allowed:
            self._start()


@dataclass(kw_only=True)
class _Batch:
    """One `evaluate` call: its chunks, those left to do, the answers so far."""

    key: int
    chunks: list[Sequence[Document]]
    observed: Mapping[str, Any]
    revision: str | None
    clock: Clock
    gate: bool
    keep_inputs: bool
    todo: deque[int] = field(default_factory=deque)
    answers: dict[int, tuple[list[Decision], dict[str, str]]] = field(default_factory=dict)
    here: Evaluator | None = None  # the calling thread's, built at its first chunk

    def __post_init__(self) -> None:
        self.todo.extend(range(len(self.chunks)))

    def done(self) -> bool:
        return len(self.answers) == len(self.chunks)

    def message(self, index: int) -> bytes:
        items = [
            [
                d.path,
                d.line,
                d.index,
                d.api_version,
                d.kind,
                d.name,
                d.namespace,
                dict(d.labels),
                d.body,
                self.observed.get(d.key),
            ]
            for d in self.chunks[index]
        ]
        header = (
            self.key,
            self.revision,
            self.clock.now().isoformat(),
            self.gate,
            self.keep_inputs,
        )
        return _CHUNK + marshal.dumps((header, json.dumps(items, separators=(",", ":")).encode()))

    def take(self, index: int, message: bytes) -> None:
        blob, inputs = marshal.loads(message)
        self.answers[index] = (parallel.decode(blob), inputs)

    def do_here(self, index: int, bundle: Bundle) -> None:
        """Evaluate chunk `index` on the calling thread."""
        if self.here is None:
            self.here = Evaluator(
                bundle, clock=self.clock, revision=self.revision, keep_inputs=self.keep_inputs
            )
        evaluate, observed = self.here.evaluate, self.observed
        self.answers[index] = (
            [
                d
                for doc in self.chunks[index]
                for d in evaluate(doc, observed=observed.get(doc.key), gate=self.gate)
            ],
            self.here.pop_inputs(),
        )

    def finish_here(self, bundle: Bundle) -> None:
        while self.todo:
            self.do_here(self.todo.popleft(), bundle)

    def result(self) -> Evaluated:
        decisions: list[Decision] = []
        inputs: dict[str, str] = {}
        for index in range(len(self.chunks)):
            found, kept = self.answers[index]
            decisions.extend(found)
            inputs.update(kept)
        return Evaluated(decisions=decisions, inputs=inputs)


# the worker's side


class _ChunkClock:
    """The time the caller stamped on the chunk being evaluated."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def now(self) -> datetime:
        assert self.at is not None
        return self.at

    def monotonic(self) -> float:
        raise NotImplementedError("evaluation reads only the time of day")


def _serve(conn: Connection) -> None:
    """A worker's loop: bundles and chunks in, each chunk's decisions out, until the pool
    closes its end."""
    bundles: OrderedDict[int, Bundle] = OrderedDict()
    evaluators: dict[tuple[int, str | None, bool], Evaluator] = {}
    clock = _ChunkClock()
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        conn.send_bytes(_READY)
        while True:
            message = conn.recv_bytes()
            if message[:1] == _BUNDLE:
                key = int.from_bytes(message[1 : 1 + _KEY], "big")
                (bundles[key],) = pickle.loads(message[1 + _KEY :])
                while len(bundles) > KEPT_BUNDLES:
                    dropped, _ = bundles.popitem(last=False)
                    for k in [k for k in evaluators if k[0] == dropped]:
                        del evaluators[k]
                continue
            (key, revision, at, gate, keep), payload = marshal.loads(message[1:])
            evaluator = evaluators.get((key, revision, keep))
            if evaluator is None:
                evaluator = evaluators[(key, revision, keep)] = Evaluator(
                    bundles[key], clock=clock, revision=revision, keep_inputs=keep
                )
            clock.at = datetime.fromisoformat(at)
            decisions = [
                d
                for doc, observed in map(_document, json.loads(payload))
                for d in evaluator.evaluate(doc, observed=observed, gate=gate)
            ]
            conn.send_bytes(marshal.dumps((parallel.encode(decisions), evaluator.pop_inputs())))


def _document(item: list[Any]) -> tuple[Document, Any]:
    path, line, index, api_version, kind, name, namespace, labels, body, observed = item
    doc = Document(
        path=path,
        line=line,
        index=index,
        api_version=api_version,
        kind=kind,
        name=name,
        namespace=namespace,
        labels=MappingProxyType(labels),
        body=body,
    )
    return doc, observed
