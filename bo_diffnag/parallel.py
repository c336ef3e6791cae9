"""Trial executors: run evaluations inline, in local worker processes, or as Ray tasks.

All three share one small interface so the asynchronous ask–tell loop does not care where a trial runs:
``submit(fn, arg) → handle``, ``wait(handles, timeout) → finished handles``, ``result(handle)`` (re-raises
the trial's exception), ``cancel(handle)`` and ``shutdown()``.

* :class:`InlineExecutor` — evaluates at ``submit`` time in this process (the serial loop).
* :class:`ProcessExecutor` — a pool of ``spawn``-ed local processes (no extra dependency). A worker that
  dies fails its trial; the pool is rebuilt and the run goes on.
* :class:`RayExecutor` — Ray tasks on a local Ray instance or a cluster (``address``); needs the ``ray``
  extra (``pip install bo-diffnag[ray]``). A crashed worker raises in ``result``; ``cancel`` kills a
  task that overran its time budget.

Example:
    >>> with make_executor(parallel=1) as executor:
    ...     handle = executor.submit(abs, -3)
    ...     executor.result(executor.wait([handle])[0])
    3
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


class TrialExecutor:
    """Base class: context-manager support; subclasses implement the five methods."""

    #: Trials that can run at the same time.
    parallel: int = 1

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        raise NotImplementedError

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Any]:
        """The handles that have finished; blocks until at least one has, or ``timeout`` seconds passed."""
        raise NotImplementedError

    def result(self, handle: Any) -> Any:
        raise NotImplementedError

    def cancel(self, handle: Any) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        """Release the workers."""

    def __enter__(self) -> TrialExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


class InlineExecutor(TrialExecutor):
    """Runs each trial in this process when it is submitted."""

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(arg))
        except Exception as err:  # reported by result(), like the other executors
            future.set_exception(err)
        return future

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Any]:
        return list(handles)

    def result(self, handle: cf.Future) -> Any:
        return handle.result()

    def cancel(self, handle: cf.Future) -> None:
        pass


class ProcessExecutor(TrialExecutor):
    """``parallel`` spawned worker processes (``concurrent.futures``); torch uses one thread per worker.

    A running process-pool task cannot be interrupted, so :meth:`cancel` replaces the pool (killing its
    workers) and transparently restarts the other trials that were in flight; their time limits keep
    counting from their first submission, including the new workers' start-up (a few seconds). A worker
    that dies breaks the whole pool: every trial in flight at that moment fails (Ray isolates trials).
    """

    def __init__(self, parallel: int) -> None:
        self.parallel = parallel
        self._tasks: dict[cf.Future, tuple[Callable[[Any], Any], Any]] = {}  # handle → (fn, arg) until done
        self._generation = 0
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")  # fork after torch's thread pools start can hang
        pool = cf.ProcessPoolExecutor(self.parallel, mp_context=context, initializer=_single_thread_worker)
        # Start the workers now (and wait): their start-up should not eat into a trial's time limit.
        cf.wait([pool.submit(_single_thread_worker) for _ in range(self.parallel)])
        return pool

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future:
        handle: cf.Future = cf.Future()
        self._tasks[handle] = (fn, arg)
        self._launch(handle)
        return handle

    def _launch(self, handle: cf.Future) -> None:
        fn, arg = self._tasks[handle]
        try:
            inner = self._pool.submit(fn, arg)
        except cf.process.BrokenProcessPool:  # a worker died earlier: start a fresh pool
            self._pool = self._new_pool()
            inner = self._pool.submit(fn, arg)
        generation = self._generation
        inner.add_done_callback(lambda done: self._settle(handle, done, generation))

    def _settle(self, handle: cf.Future, inner: cf.Future, generation: int) -> None:
        if generation != self._generation or handle.done():
            return  # restarted in a newer pool, or cancelled: the newer run settles it
        self._tasks.pop(handle, None)
        if inner.exception() is not None:
            handle.set_exception(inner.exception())
        else:
            handle.set_result(inner.result())

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Any]:
        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return [h for h in handles if h in done]

    def result(self, handle: cf.Future) -> Any:
        return handle.result()

    def cancel(self, handle: cf.Future) -> None:
        if handle.done():
            return
        self._tasks.pop(handle, None)
        handle.set_exception(TimeoutError("trial cancelled"))
        self._generation += 1
        old, self._pool = self._pool, self._new_pool()
        for process in list(getattr(old, "_processes", {}).values()):
            process.kill()
        old.shutdown(wait=False, cancel_futures=True)
        for other in list(self._tasks):  # innocent trials of the killed pool start again
            self._launch(other)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(TrialExecutor):
    """Ray tasks with one CPU each; ``address=None`` starts (or joins) a local Ray instance."""

    def __init__(self, parallel: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as err:
            raise ImportError("--ray-address / RayExecutor need Ray: pip install 'bo-diffnag[ray]'") from err
        self.parallel = parallel
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            options = {"address": address} if address else {"num_cpus": parallel}
            ray.init(**options, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        self._run = ray.remote(num_cpus=1, max_retries=0)(_call_single_thread)
        # Start the workers (and import torch there) now, so start-up does not eat into a trial's time limit.
        ray.get([self._run.remote(bool, 0) for _ in range(parallel)])

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self._run.remote(fn, arg)

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Any]:
        done, _ = self._ray.wait(list(handles), num_returns=1, timeout=timeout)
        return done

    def result(self, handle: Any) -> Any:
        return self._ray.get(handle)

    def cancel(self, handle: Any) -> None:
        self._ray.cancel(handle, force=True)

    def shutdown(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(parallel: int = 1, ray_address: str | None = None, backend: str = "auto") -> TrialExecutor:
    """The executor for ``parallel`` concurrent trials.

    ``backend``: ``"auto"`` (inline for 1 without an address; else Ray if installed, otherwise local
    processes), ``"inline"``, ``"process"`` or ``"ray"``. A ``ray_address`` always means Ray.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")
    if backend not in ("auto", "inline", "process", "ray"):
        raise ValueError(f"unknown backend {backend!r}; expected auto, inline, process or ray")
    if ray_address is not None or backend == "ray":
        return RayExecutor(parallel, ray_address)
    if backend == "inline" or (backend == "auto" and parallel == 1):
        return InlineExecutor()
    if backend == "auto":
        from importlib.util import find_spec

        return RayExecutor(parallel) if find_spec("ray") else ProcessExecutor(parallel)
    return ProcessExecutor(parallel)


def _single_thread_worker() -> None:
    import torch

    torch.set_num_threads(1)  # P workers on P cores: more threads each would oversubscribe them


def _call_single_thread(fn: Callable[[Any], Any], arg: Any) -> Any:
    _single_thread_worker()
    return fn(arg)
