"""`npc-runtime bench latency`: real voice turns at real-time pace, end to end.

Questions are synthesised once with the bundled piper voice, resampled to
16 kHz and streamed in 40 ms chunks at the pace a microphone would deliver
them, followed by silence, so the server's endpointer decides when speech
ended exactly as it would with a player. First audio is measured on the
client, from the moment the last voiced sample was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .client import spawn_server
from .config import unknown_env_settings

QUESTIONS = [
    "What is the best ramen you make?",
    "Is it going to rain again tonight?",
    "Can I get a bowl of noodles, please?",
    "How long have you been cooking here?",
    "Do you know anyone who fixes implants?",
]
TRAILING_SILENCE_S = 1.5


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def _speech_clips() -> list[tuple[str, np.ndarray, float]]:
    """(question, 16 kHz audio with trailing silence, seconds until speech ends)."""
    from .audio import ASR_RATE, resample
    from .tts.piper_tts import PiperSynthesizer, VoiceSettings

    synth = await PiperSynthesizer.aload(None, alignments=False)
    clips = []
    for q in QUESTIONS:
        syn = await synth.synthesize(q, VoiceSettings())
        audio = resample(syn.audio, syn.sample_rate, ASR_RATE)
        voiced = np.nonzero(np.abs(audio) > 0.02)[0]
        speech_end = (voiced[-1] + 1) / ASR_RATE if voiced.size else audio.size / ASR_RATE
        pad = np.zeros(int(TRAILING_SILENCE_S * ASR_RATE), dtype=np.float32)
        clips.append((q, np.concatenate([audio, pad]), float(speech_end)))
    return clips


async def _one_turn(
    address: str, character: str, clip: np.ndarray, speech_end_s: float, player: str
) -> dict[str, Any]:
    from .client import Conversation, channel, timings_dict
    from .server.gen.npc.v1 import npc_pb2 as pb

    async with channel(address) as chan:
        conv = Conversation(
            chan,
            pb.SessionStart(
                character_id=character,
                # One player per configuration and run: servers of a --compare share the
                # data folder's Redis, and a stored history would change the prompts.
                player_id=player,
                input_audio=pb.AudioFormat(sample_rate_hz=16_000, channels=1),
            ),
        )
        await conv.wait_ready()
        collect = asyncio.create_task(conv.collect_turn(timeout=120))
        t_start = time.perf_counter()
        send = asyncio.create_task(conv.stream_audio(clip, 16_000, chunk_ms=40, realtime=True))
        result = await collect
        await send
        conv.close()
    t_eos = t_start + speech_end_s
    if result.end is None:
        raise RuntimeError(f"turn did not finish: errors={[e.message for e in result.errors]}")
    row = timings_dict(result.end.timings)
    row["client_first_audio_ms"] = (
        (result.first_audio_at - t_eos) * 1000.0 if result.first_audio_at else float("nan")
    )
    row["runtime_ms"] = runtime_share_ms(row)
    row["speculative"] = float(row["speculative"])
    row["transcript"] = result.transcript  # type: ignore[assignment]
    row["reply"] = result.text  # type: ignore[assignment]
    # A turn that ended in an error has no first audio: say why in the log and the JSON.
    row["errors"] = [f"{e.code}: {e.message}" for e in result.errors]  # type: ignore[assignment]
    return row


STAGES = [
    "end_of_speech_ms",
    "asr_ms",
    "asr_wait_ms",
    "recall_ms",
    "prime_wait_ms",
    "llm_prompt_read_ms",
    "llm_first_token_ms",
    "first_sentence_ms",
    "tts_first_audio_ms",
    # The waterfall, from the end of speech (negative: during the silence).
    "transcript_at_ms",
    "llm_start_at_ms",
    "first_sentence_at_ms",
    "tts_start_at_ms",
    "first_audio_made_at_ms",
    "first_audio_sent_at_ms",
    "send_wait_ms",
    "runtime_ms",
    "client_first_audio_ms",
    "llm_total_ms",
    "total_ms",
    "llm_prompt_tokens",
    "llm_cached_tokens",
    "llm_completion_tokens",
    "speculative",
]

# Settings that turn the pipeline overlap off: the baseline of `--compare`.
SEQUENTIAL_ENV = {
    "NPC_ASR__SPECULATE_AFTER_MS": "0",
    "NPC_ASR__COMPLETE_SILENCE_MS": "0",
    "NPC_ASR__INCOMPLETE_SILENCE_MS": "0",
    "NPC_TTS__FIRST_CLAUSE_MIN_CHARS": "0",
    "NPC_LLM__PRIME_PROMPTS": "false",
}


def _stat_fields() -> list[int] | None:
    """The all-CPUs line of /proc/stat, in jiffies; None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            return [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs; None where they cannot be read."""
    fields = _stat_fields()
    return None if fields is None else (fields[3] + fields[4], sum(fields))  # idle + iowait


def _steal_times() -> tuple[int, int] | None:
    """(stolen, total) jiffies of all CPUs: time a virtual machine's CPUs were ready to
    run but the host ran something else. None where they cannot be read."""
    fields = _stat_fields()
    return None if fields is None or len(fields) < 8 else (fields[7], sum(fields))


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of CPU time the host took between two `_steal_times` readings."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


PROBE_PHRASE = "Please bring me the axe from the table."


class MachineProbe:
    """The same model work in every run of the bench: the bundled Whisper on one thread
    transcribing one fixed clip. On a host whose speed drifts (shared, throttled) runs
    of the bench are told apart by it: in one evening here the same defaults gave first
    audio 667 ms at p50 and, minutes later, 798."""

    def __init__(self) -> None:
        self._clip: np.ndarray | None = None
        self._transcriber: Any = None

    def _load(self) -> None:
        from .asr.transcriber import WhisperTranscriber
        from .audio import ASR_RATE, resample
        from .tts.piper_tts import PiperSynthesizer, VoiceSettings

        syn = PiperSynthesizer.load(alignments=False)
        # No noise: the same samples on every run.
        out = syn.synthesize_sync(PROBE_PHRASE, VoiceSettings(noise_scale=0.0, noise_w_scale=0.0))
        self._clip = resample(out.audio, out.sample_rate, ASR_RATE)
        self._transcriber = WhisperTranscriber.load(cpu_threads=1)

    def measure_sync(self, runs: int = 5) -> float:
        """Median milliseconds of `runs` transcriptions (after one unmeasured)."""
        if self._transcriber is None:
            self._load()
        times = []
        for _ in range(runs + 1):
            times.append(self._transcriber.transcribe_sync(self._clip, "en").elapsed_ms)
        return float(statistics.median(times[1:]))

    async def measure(self, runs: int = 5) -> float:
        return await asyncio.to_thread(self.measure_sync, runs)


async def wait_for_idle_cpu(
    busy_below: float = 0.15, window_s: float = 0.3, max_wait_s: float = 15.0
) -> float:
    """Until the CPUs were less than `busy_below` busy over one `window_s`, at most
    `max_wait_s`; the seconds waited (0 where the load cannot be read)."""
    t0 = time.perf_counter()
    last = _cpu_times()
    if last is None:
        return 0.0
    while time.perf_counter() - t0 < max_wait_s:
        await asyncio.sleep(window_s)
        now = _cpu_times()
        if now is None:
            break
        idle, total = now[0] - last[0], now[1] - last[1]
        last = now
        if total > 0 and 1.0 - idle / total < busy_below:
            break
    return time.perf_counter() - t0


def parse_env_settings(items: list[str]) -> dict[str, str]:
    """`NPC_SECTION__KEY=VALUE` strings as an environment for a server."""
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("NPC_") or key != key.strip() or not key[4:]:
            raise ValueError(
                f"{item!r} is not NPC_KEY=VALUE; settings are named as environment "
                "variables, e.g. NPC_LLM__FLASH_ATTN=auto"
            )
        env[key] = value
    unknown = unknown_env_settings(env)
    if unknown:
        raise ValueError("; ".join(unknown))  # the CLI names the option
    return env


def runtime_share_ms(row: dict[str, Any]) -> float:
    """The runtime's own time on the path to the first audio: the gaps between one
    stage ending and the next starting (model compute and the end-of-speech silence
    excluded; audio held back until the end of speech is the silence, not overhead)."""
    # Recall (query embedding and Redis search) sits between the two: not the runtime's own.
    asr_gap = row["llm_start_at_ms"] - row["transcript_at_ms"] - row.get("recall_ms", 0.0)
    tts_gap = row["tts_start_at_ms"] - row["first_sentence_at_ms"]
    ready = max(row["first_audio_made_at_ms"], row["end_of_speech_ms"])
    send_gap = row["first_audio_sent_at_ms"] - ready
    return float(max(0.0, asr_gap) + max(0.0, tts_gap) + max(0.0, send_gap))


async def run_latency_bench(args: argparse.Namespace) -> int:
    print("… synthesising questions with piper", file=sys.stderr)
    clips = await _speech_clips()
    # One server per configuration; turns alternate between them so the machine's
    # background load falls on both alike.
    configs: dict[str, dict[str, str]] = {"server": {}}
    if args.baseline_env:
        configs = {"baseline": args.baseline_env, "default": {}}
    elif args.compare:
        configs = {"sequential": SEQUENTIAL_ENV, "overlapped": {}}
    compare = len(configs) > 1
    # The probe times this machine: a server given by --address may run on another one.
    probe = MachineProbe() if compare or not args.address else None
    probe_ms = {"before": await probe.measure()} if probe else {}
    if args.greedy:
        # Sampled replies differ from run to run, and a reply's first chunk length and
        # the history it leaves move first audio more than most settings do.
        configs = {n: {"NPC_LLM__TEMPERATURE": "0", **env} for n, env in configs.items()}
    procs: list[asyncio.subprocess.Process] = []
    addresses: dict[str, str] = {}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    try:
        for name, env in configs.items():
            if args.address and not compare:
                addresses[name] = args.address
                continue
            print(f"… starting a server ({name})", file=sys.stderr)
            proc, addresses[name] = await spawn_server({"NPC_LOG_LEVEL": "warning", **env})
            procs.append(proc)
        total = args.warmup + args.turns
        run = uuid.uuid4().hex[:8]
        steal_before = _steal_times()
        for i in range(total):
            _q, clip, speech_end = clips[i % len(clips)]
            for name in configs:
                if compare:
                    # The other server's work after its turn (priming the next prompt,
                    # reflecting) would land on this turn: start on a quiet machine.
                    await wait_for_idle_cpu()
                player = f"bench-{name}-{run}"
                row = await _one_turn(addresses[name], args.character, clip, speech_end, player)
                measured = i >= args.warmup
                if measured:
                    rows[name].append(row)
                tag = "turn" if measured else "warmup"
                print(
                    f"{name} {tag} {i + 1}/{total}: first audio {row['client_first_audio_ms']:.0f} "
                    f"ms after speech | heard {row['transcript']!r} → {row['reply'][:50]!r}",
                    file=sys.stderr,
                )
                for err in row["errors"]:
                    print(f"  error: {err}", file=sys.stderr)
        stolen = steal_share(steal_before, _steal_times())
    finally:
        # Newest first: the first server started the data folder's Redis and stops it
        # when it exits, so the others must have written their memories by then.
        for proc in reversed(procs):
            proc.terminate()
            await proc.wait()
    if probe:
        probe_ms["after"] = await probe.measure()
    summaries = {name: _summary(r) for name, r in rows.items()}
    names = list(configs)
    print(f"\n{'stage':24s}" + "".join(f" {n[:10] + ' p50':>15s} {'p95':>7s}" for n in names))
    for stage in STAGES:
        cells = "".join(
            f" {summaries[n][stage]['p50']:15.1f} {summaries[n][stage]['p95']:7.1f}" for n in names
        )
        print(f"{stage:24s}{cells}")
    if probe_ms:
        print(
            f"machine: Whisper on a fixed clip {probe_ms['before']:.0f} ms before the turns, "
            f"{probe_ms['after']:.0f} ms after"
            + ("" if stolen is None else f"; CPU time taken by the host meanwhile {stolen:.1%}")
        )
    failed = {n: sum(map(_failed, rows[n])) for n in names}
    if any(failed.values()):
        print(f"turns without audio (left out above): {failed}", file=sys.stderr)
    if args.json:
        doc = {
            "bench": "latency",
            "turns": args.turns,
            "character": args.character,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                # The same Whisper work before and after the turns (MachineProbe).
                "probe_whisper_ms": {k: round(v, 1) for k, v in probe_ms.items()} or None,
                "steal_share": None if stolen is None or not probe_ms else round(stolen, 4),
            },
            "configs": {n: configs[n] for n in names},
            "summary": summaries[names[-1]],
            "summaries": summaries,
            "failed_turns": failed,
            "rows": rows[names[-1]],
            "all_rows": rows,
        }
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(doc, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if any(failed.values()) else 0


def _failed(row: dict[str, Any]) -> bool:
    return bool(row.get("errors")) or math.isnan(float(row["client_first_audio_ms"]))


def _summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    # A turn with no audio has no latency: it is counted apart (failed_turns), not as NaN.
    rows = [r for r in rows if not _failed(r)]
    return {
        stage: {
            "p50": round(percentile([float(r[stage]) for r in rows], 50), 1),
            "p95": round(percentile([float(r[stage]) for r in rows], 95), 1),
            "mean": round(statistics.fmean(float(r[stage]) for r in rows), 1),
        }
        for stage in STAGES
    }
