"""Ctrl-C and SIGTERM in a sweep's driver process."""

from __future__ import annotations

import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a scheduler's stop): the sweep stops as for Ctrl-C."""

    signum = signal.SIGTERM


class CtrlC:
    """SIGINT or SIGTERM in the driver: raise KeyboardInterrupt (`Terminated` for SIGTERM), and
    remember it. Python drops an exception raised while the interpreter runs a finalizer or
    callback ("Exception ignored in ..."), so a long driver loop also checks the flag between
    stages (or cells) and stops there. `ray.init` installs its own SIGTERM handler (sys.exit,
    which ends in a core dump mid-Tune); `cluster.connect` puts this one back."""

    def __init__(self) -> None:
        self.hit: KeyboardInterrupt | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.hit = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        raise self.hit

    def check(self) -> None:
        if self.hit is not None:
            raise type(self.hit)()

    def __exit__(self, exc_type, exc, tb) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        # Code between the handler and here (Tune's loop) may catch the KeyboardInterrupt and
        # raise a plain one of its own; the caller still learns that it was a SIGTERM.
        if isinstance(exc, KeyboardInterrupt) and isinstance(self.hit, Terminated):
            if not isinstance(exc, Terminated):
                raise Terminated() from exc
