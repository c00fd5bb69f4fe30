"""A scene on disk: transcript (JSON lines and Markdown), one WAV per line, a mixed WAV.

SceneRecording collects SceneEvent messages (from RunScene, or a director's
events encoded the same way), so an in-process run and a remote one write the
same files.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import write_wav
from ..server.codec import STOP_REASON_NAMES
from ..server.gen.npc.v1 import npc_pb2 as pb

GAP_MS = 300  # silence between lines in the mixed WAV


@dataclass
class RecordedLine:
    index: int
    speaker_id: str
    text: str = ""
    is_player: bool = False
    pcm: bytearray = field(default_factory=bytearray)
    sample_rate: int = 0
    timings: pb.TurnTimings | None = None
    emotion: int = 0


@dataclass
class SceneRecording:
    names: dict[str, str] = field(default_factory=dict)  # speaker id → display name
    lines: dict[int, RecordedLine] = field(default_factory=dict)
    summary: pb.SceneSummary | None = None
    errors: list[str] = field(default_factory=list)

    def feed(self, ev: pb.SceneEvent) -> RecordedLine | None:
        """Take one event; returns the line when it just finished (TurnEnd or a player line)."""
        if ev.HasField("summary"):
            self.summary = ev.summary
            return None
        line = self.lines.setdefault(ev.line_index, RecordedLine(ev.line_index, ev.speaker_id))
        kind = ev.event.WhichOneof("event")
        if kind == "npc_text":
            line.text += ev.event.npc_text.delta
        elif kind == "npc_audio":
            line.pcm += ev.event.npc_audio.pcm
            line.sample_rate = ev.event.npc_audio.sample_rate_hz
        elif kind == "emotion":
            line.emotion = ev.event.emotion.category
        elif kind == "user_transcript":
            line.text, line.is_player = ev.event.user_transcript.text, True
            return line
        elif kind == "error":
            self.errors.append(f"line {ev.line_index} ({ev.speaker_id}): {ev.event.error.message}")
        elif kind == "turn_end":
            line.text = ev.event.turn_end.text or line.text
            line.timings = ev.event.turn_end.timings
            return line
        return None

    def name(self, speaker_id: str) -> str:
        return self.names.get(speaker_id, speaker_id)

    def ordered(self) -> list[RecordedLine]:
        return [self.lines[i] for i in sorted(self.lines)]

    def stats(self) -> dict[str, Any]:
        """Time per line and first-line latency, in ms."""
        npc = [s for s in (self.summary.lines if self.summary else []) if not s.is_player]
        totals = [s.total_ms for s in npc]
        firsts = [s.first_output_ms for s in npc]
        return {
            "npc_lines": len(npc),
            "first_line_ms": round(self.summary.first_line_ms, 1) if self.summary else 0.0,
            "line_total_ms_mean": round(statistics.fmean(totals), 1) if totals else 0.0,
            "line_total_ms_max": round(max(totals), 1) if totals else 0.0,
            "line_first_output_ms_mean": round(statistics.fmean(firsts), 1) if firsts else 0.0,
            "audio_ms_total": round(sum(s.audio_ms for s in npc), 1),
            "scene_total_ms": round(self.summary.total_ms, 1) if self.summary else 0.0,
        }

    def write(self, out: Path, title: str = "", premise: str = "") -> dict[str, Path]:
        """Write every output into `out`; returns what was written, by kind."""
        out.mkdir(parents=True, exist_ok=True)
        lines_dir = out / "lines"
        lines_dir.mkdir(exist_ok=True)
        written: dict[str, Path] = {}
        rows: list[dict[str, Any]] = []
        summaries = {s.index: s for s in (self.summary.lines if self.summary else [])}
        mixed: list[np.ndarray] = []
        rate = next((ln.sample_rate for ln in self.ordered() if ln.sample_rate), 22_050)
        for line in self.ordered():
            s = summaries.get(line.index)
            wav = ""
            if line.pcm:
                audio = np.frombuffer(bytes(line.pcm), dtype="<i2").astype(np.float32) / 32768.0
                path = lines_dir / f"{line.index:03d}-{line.speaker_id}.wav"
                write_wav(path, audio, line.sample_rate)
                wav = str(path.relative_to(out))
                if line.sample_rate == rate:
                    if mixed:
                        mixed.append(np.zeros(rate * GAP_MS // 1000, dtype=np.float32))
                    mixed.append(audio)
            rows.append(
                {
                    "index": line.index,
                    "speaker_id": line.speaker_id,
                    "speaker": self.name(line.speaker_id),
                    "is_player": line.is_player,
                    "text": line.text,
                    "addressed_to": s.addressed_to if s else "",
                    "floor_reason": s.floor_reason if s else "",
                    "started_at_ms": round(s.started_at_ms, 1) if s else 0.0,
                    "first_output_ms": round(s.first_output_ms, 1) if s else 0.0,
                    "total_ms": round(s.total_ms, 1) if s else 0.0,
                    "audio_ms": round(s.audio_ms, 1) if s else 0.0,
                    "knowledge_sources": list(s.knowledge_sources) if s else [],
                    "wav": wav,
                }
            )
        jsonl = out / "transcript.jsonl"
        jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        written["jsonl"] = jsonl
        if mixed:
            scene_wav = out / "scene.wav"
            write_wav(scene_wav, np.concatenate(mixed), rate)
            written["mixed"] = scene_wav
        reason = STOP_REASON_NAMES.get(self.summary.reason, "") if self.summary else "incomplete"
        detail = self.summary.detail if self.summary else ""
        timings = {
            "scene_id": self.summary.scene_id if self.summary else "",
            "stopped": reason,
            "detail": detail,
            **self.stats(),
            "errors": self.errors,
        }
        summary = out / "summary.json"
        summary.write_text(json.dumps(timings, indent=2) + "\n")
        written["summary"] = summary
        md = out / "transcript.md"
        md.write_text(self.markdown(rows, title, premise, reason, detail))
        written["markdown"] = md
        return written

    def markdown(
        self, rows: list[dict[str, Any]], title: str, premise: str, reason: str, detail: str
    ) -> str:
        st = self.stats()
        out = [f"# {title or 'Scene'}", ""]
        if premise.strip():
            out += [f"*{' '.join(premise.split())}*", ""]
        for r in rows:
            to = f" (to {self.name(r['addressed_to'])})" if r["addressed_to"] else ""
            out.append(f"**{r['speaker']}**{to}: {r['text']}")
            out.append("")
        out += [
            f"Stopped: {reason}{f' ({detail})' if detail else ''}.",
            "",
            "| line | speaker | floor | first audio ms | total ms | audio ms |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            if not r["is_player"]:
                out.append(
                    f"| {r['index']} | {r['speaker']} | {r['floor_reason']} | "
                    f"{r['first_output_ms']:.0f} | {r['total_ms']:.0f} | {r['audio_ms']:.0f} |"
                )
        out += [
            "",
            f"First line: {st['first_line_ms']:.0f} ms to first audio; "
            f"{st['line_total_ms_mean']:.0f} ms per line on average "
            f"({st['npc_lines']} lines, {st['audio_ms_total'] / 1000:.1f} s of speech).",
            "",
        ]
        return "\n".join(out)
