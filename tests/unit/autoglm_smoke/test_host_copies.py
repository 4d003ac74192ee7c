"""Host<->device copy bandwidth at steady state (autoglm_smoke/host_copies.py). No GPU in CI: the
CUDA events are faked by a clock that advances by a scripted copy rate per window, so the warm-up
logic (run until two windows agree) is tested on the shapes the lent H100 showed (a slow first
window after idle, then steady); the real path runs on the GPU machine (docs/gpu-smoke.md)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from autoglm_smoke import host_copies

GIB = 1 << 30


class ScriptedCopies:
    """torch.cuda's events and stream for one copy function whose rate (GB/s) per timed window
    comes from `rates`, the last one repeating."""

    def __init__(self, rates):
        self.rates, self.window = list(rates), 0
        self.copies_in_window, self.started = 0, False
        outer = self

        class Event:
            def __init__(self, enable_timing=True):
                self.t = None

            def record(self, stream):  # window_rate records a start, then an end
                outer.started = not outer.started
                if outer.started:
                    self.t, outer.copies_in_window = 0.0, 0
                else:
                    rate = outer.rates[min(outer.window, len(outer.rates) - 1)] * 1e9
                    self.t = outer.copies_in_window * GIB / rate
                    outer.window += 1

            def synchronize(self):
                pass

            def elapsed_time(self, end):
                return (end.t - self.t) * 1000.0

        self.torch = SimpleNamespace(cuda=SimpleNamespace(Event=Event))
        self.stream = SimpleNamespace(synchronize=lambda: None)

    def copy(self):
        self.copies_in_window += 1


def test_warm_up_runs_until_two_windows_agree_then_takes_the_median_of_five():
    fake = ScriptedCopies([16.0, 40.0, 54.0, 55.0] + [55.0, 54.0, 56.0, 55.5, 55.2])
    warm_s, settled, last = host_copies.settle(fake.torch, fake.stream, fake.copy, GIB)
    assert settled and last == pytest.approx(55.0 * 1e9)
    assert fake.window == 4  # 16 -> 40 -> 54 -> 55: the first pair within 3 % ends the warm-up
    rates = [host_copies.window_rate(fake.torch, fake.stream, fake.copy, GIB, 10) / 1e9 for _ in range(5)]
    assert sorted(round(r, 1) for r in rates) == [54.0, 55.0, 55.2, 55.5, 56.0]


def test_warm_up_that_never_settles_stops_at_its_limit_and_says_so(monkeypatch):
    clock = iter(range(0, 1000))
    monkeypatch.setattr(host_copies.time, "perf_counter", lambda: float(next(clock)) * 0.25)
    fake = ScriptedCopies([20.0, 40.0] * 50)  # alternating: never two windows within 3 %
    warm_s, settled, _ = host_copies.settle(fake.torch, fake.stream, fake.copy, GIB)
    assert not settled and warm_s >= host_copies.SETTLE_MAX_S


def test_local_cpus_reads_the_gpus_node_from_sysfs(tmp_path):
    dev = tmp_path / "0000:18:00.0"
    dev.mkdir()
    (dev / "local_cpulist").write_text("0-3,8,10-11\n")
    assert host_copies.local_cpus("00000000:18:00.0", sysfs=str(tmp_path)) == {0, 1, 2, 3, 8, 10, 11}
    assert host_copies.local_cpus("00000000:3B:00.0", sysfs=str(tmp_path)) is None  # not there: no binding
    assert host_copies.local_cpus(None, sysfs=str(tmp_path)) is None


def test_on_cpus_binds_this_thread_only_for_the_block_and_restores_it():
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("needs two usable CPUs to bind to one of them")
    one = {min(before)}
    with host_copies.on_cpus(one) as used:
        assert used == sorted(one) and os.sched_getaffinity(0) == one
    assert os.sched_getaffinity(0) == before
    with host_copies.on_cpus({max(before) + 1000}) as used:  # none of them usable here: left alone
        assert used is None and os.sched_getaffinity(0) == before
    with host_copies.on_cpus(None) as used:
        assert used is None
