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


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_cleanup_is_waited_out(capfd, second):
    """Ctrl-C (or SIGTERM) while the sweep cleans up after the first Ctrl-C: no second
    exception inside the cleanup or after it, the first one's kind (exit code) is kept, and the
    handlers come back once the caller's cleanup ends (`calm`)."""
    from raygan.orchestrate.interrupt import calm

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    cleaned = []
    with pytest.raises(KeyboardInterrupt) as first:
        with CtrlC() as ctrl_c:
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                ctrl_c.stopping()  # as the sweep's driver says when it catches it
                raise
            finally:  # the cleanup: MLflow's parent run closed, the lock released
                signal.raise_signal(second)
                cleaned.append("parent run closed")
    assert cleaned and type(first.value) is KeyboardInterrupt  # not Terminated: exit code 130
    signal.raise_signal(second)  # the caller's cleanup (Ray's shutdown, the hint): shielded too
    signal.raise_signal(signal.SIGINT)
    calm()
    assert {s: signal.getsignal(s) for s in before} == before
    assert capfd.readouterr().err.count("still stopping") == 1


def test_stopping_shields_a_library_interrupt():
    """Tune may raise its own KeyboardInterrupt; the driver's `stopping` shields what follows."""
    from raygan.orchestrate.interrupt import calm

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with CtrlC() as ctrl_c:
            try:
                raise KeyboardInterrupt  # as a library's handler raises it
            except KeyboardInterrupt:
                ctrl_c.stopping()
                signal.raise_signal(signal.SIGINT)  # waited out
                raise
    calm()
    assert signal.getsignal(signal.SIGINT) is before
