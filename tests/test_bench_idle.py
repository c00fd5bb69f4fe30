"""The latency bench: it waits for a quiet machine between compared turns, and says how
fast the machine was (the host's share of CPU time, a fixed Whisper probe)."""

from __future__ import annotations

from typing import Any

import pytest

from npc_runtime import bench


async def test_waits_until_the_cpus_go_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    # (idle, total) jiffies: two busy windows (90% busy), then a quiet one (5% busy).
    samples = iter([(0, 0), (10, 100), (20, 200), (115, 300), (215, 400)])
    monkeypatch.setattr(bench, "_cpu_times", lambda: next(samples))
    waited = await bench.wait_for_idle_cpu(busy_below=0.15, window_s=0.01, max_wait_s=5)
    assert next(samples) == (215, 400)  # stopped after the first quiet window
    assert waited < 5


async def test_gives_up_after_max_wait_on_a_busy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(0, 10**6, 100))
    monkeypatch.setattr(bench, "_cpu_times", lambda: (0, next(ticks)))  # never idle
    waited = await bench.wait_for_idle_cpu(window_s=0.01, max_wait_s=0.1)
    assert 0.1 <= waited < 1.0


async def test_no_wait_where_the_load_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "_cpu_times", lambda: None)
    assert await bench.wait_for_idle_cpu() == 0.0


@pytest.mark.parametrize("read", [bench._cpu_times, bench._steal_times], ids=["idle", "steal"])
def test_real_cpu_times_are_read_on_linux(read: Any) -> None:
    times = read()
    if times is None:
        pytest.skip("no /proc/stat here")
    part, total = times
    assert 0 <= part <= total


async def test_stops_waiting_when_the_load_can_no_longer_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples = iter([(0, 0), None])
    monkeypatch.setattr(bench, "_cpu_times", lambda: next(samples))
    assert await bench.wait_for_idle_cpu(window_s=0.01, max_wait_s=5) < 5


def test_steal_share_is_the_hosts_part_of_the_time_between_two_readings() -> None:
    assert bench.steal_share((10, 1000), (30, 1400)) == pytest.approx(0.05)
    assert bench.steal_share(None, (30, 1400)) is None
    assert bench.steal_share((10, 1000), (10, 1000)) is None  # no time passed


@pytest.mark.models
def test_the_machine_probe_times_whisper_on_the_same_clip_every_run() -> None:
    probe = bench.MachineProbe()
    first = probe.measure_sync(runs=2)
    clip = probe._clip
    assert first > 0 and probe.measure_sync(runs=2) > 0
    assert probe._clip is clip  # loaded once, the same samples
    heard = probe._transcriber.transcribe_sync(clip, "en").text.lower()
    assert "axe" in heard and "table" in heard
