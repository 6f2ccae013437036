"""Ctrl-C and SIGTERM in a sweep's driver process."""

from __future__ import annotations

import os
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOPPING_NOTE = b"\nstill stopping: the finished runs are being saved; the resume command follows\n"

_shield: dict[int, object] = {}  # the handlers to put back once the cleanup is over (`calm`)
_said: list[bool] = []  # the note on a further signal was printed


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a scheduler's stop): the sweep stops as for Ctrl-C."""

    signum = signal.SIGTERM


def _wait_out(signum, frame) -> None:
    """A Ctrl-C or SIGTERM during the cleanup after the first: said once, and waited out, so the
    cleanup ends as after one (same exit code, the resume hint, no traceback)."""
    if not _said:
        _said.append(True)
        os.write(2, STOPPING_NOTE)  # not print(): a handler may run inside another write


def calm() -> None:
    """End the shield that a stopping `CtrlC` left up for its caller's cleanup: the handlers
    from before the sweep are back."""
    for signum, handler in _shield.items():
        signal.signal(signum, handler)
    _shield.clear()
    _said.clear()


class CtrlC:
    """SIGINT or SIGTERM in the driver: raise KeyboardInterrupt (`Terminated` for SIGTERM), and
    remember it. Python drops an exception raised while the interpreter runs a finalizer or
    callback ("Exception ignored in ..."), so a long driver loop also checks the flag between
    stages (or cells) and stops there. `ray.init` installs its own SIGTERM handler (sys.exit,
    which ends in a core dump mid-Tune); `cluster.connect` puts this one back.

    After the first one, another Ctrl-C or SIGTERM is waited out inside the block; once the
    driver says it is `stopping`, after the block as well, until the caller's cleanup ends with
    `calm()`: interrupting the cleanup leaves the same state as one Ctrl-C."""

    def __init__(self) -> None:
        self.hit: KeyboardInterrupt | None = None
        self.previous: dict[int, object] = {}
        self.cleaning = False  # stopping: a further signal is waited out inside the block
        self.shield = False  # ... and after it, until `calm()` (the caller cleans up too)

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.cleaning:
            _wait_out(signum, frame)
            return
        self.hit = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        self.cleaning = True  # what runs from here on is the cleanup
        raise self.hit

    def check(self) -> None:
        if self.hit is not None:
            raise type(self.hit)()

    def stopping(self) -> None:
        """The sweep stops (a KeyboardInterrupt reached the driver, from this handler or from
        a library's): from here on a further signal is waited out, in the block and after it
        until the caller's `calm()`."""
        self.cleaning = self.shield = True
        if self.hit is None:
            self.hit = KeyboardInterrupt()

    def __exit__(self, exc_type, exc, tb) -> None:
        stopping = self.shield and isinstance(exc, KeyboardInterrupt) and self.previous
        for signum, handler in self.previous.items():
            if stopping:  # the caller's cleanup (Ray's shutdown, the hint) is shielded too
                _shield.setdefault(signum, handler)
                signal.signal(signum, _wait_out)
            else:
                signal.signal(signum, handler)
        # Code between the handler and here (Tune's loop) may catch the KeyboardInterrupt and
        # raise a plain one of its own; the caller still learns that it was a SIGTERM.
        if isinstance(exc, KeyboardInterrupt) and isinstance(self.hit, Terminated):
            if not isinstance(exc, Terminated):
                raise Terminated() from exc
