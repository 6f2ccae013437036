"""Ctrl-C in a sweep's driver process."""

from __future__ import annotations

import signal
import threading


class CtrlC:
    """SIGINT in the driver: raise KeyboardInterrupt as usual, and remember it. Python drops an
    exception raised while the interpreter runs a finalizer or callback ("Exception ignored
    in ..."), so a long driver loop also checks the flag between stages (or cells) and stops
    there."""

    def __init__(self) -> None:
        self.hit = False
        self.previous = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.hit = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.hit:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
