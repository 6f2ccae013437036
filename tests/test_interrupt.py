"""Ctrl-C in the driver: the handler raises, remembers, and is removed again afterwards."""

import signal

import pytest

from raygan.orchestrate.interrupt import CtrlC, Terminated


def test_sigint_raises_and_is_remembered_for_the_next_check():
    before = signal.getsignal(signal.SIGINT)
    with CtrlC() as ctrl_c:
        ctrl_c.check()  # nothing happened yet: no exception
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert ctrl_c.hit
        with pytest.raises(KeyboardInterrupt):  # a dropped KeyboardInterrupt is not lost
            ctrl_c.check()
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_raises_terminated_and_survives_a_plain_reraise():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with CtrlC():
            try:
                signal.raise_signal(signal.SIGTERM)
            except KeyboardInterrupt:
                raise KeyboardInterrupt from None  # as a library's handler might
    assert signal.getsignal(signal.SIGTERM) is before
    assert 128 + Terminated.signum == 143  # the exit code that full_grid.py returns
