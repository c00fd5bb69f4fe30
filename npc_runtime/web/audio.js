// Microphone capture (16 kHz s16le via an AudioWorklet) and streaming playback of
// NpcAudio chunks, scheduled back to back on one Web Audio clock that also drives
// the face's visemes.

import { base64ToBytes } from "./npc-client.js";

export const MIC_RATE = 16000;

/** The microphone: calls onChunk(Int16Array, peak) every 40 ms. */
export class Mic {
  static async open(ctx, onChunk) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error(
        "this page has no microphone access: open it on http://localhost or over HTTPS",
      );
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      // Echo cancellation keeps the NPC's own voice from barging in hands-free.
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    await ctx.audioWorklet.addModule("/web/capture-worklet.js");
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "npc-capture", {
      numberOfOutputs: 1,
      processorOptions: { chunkSamples: MIC_RATE / 25 },
    });
    node.port.onmessage = (e) => onChunk(new Int16Array(e.data.pcm), e.data.peak);
    // A silent sink: Chrome pulls a worklet only while it reaches the destination.
    const sink = ctx.createGain();
    sink.gain.value = 0;
    source.connect(node).connect(sink).connect(ctx.destination);
    return new Mic(stream, source, node);
  }

  constructor(stream, source, node) {
    this.stream = stream;
    this.source = source;
    this.node = node;
  }

  close() {
    this.source.disconnect();
    this.node.disconnect();
    for (const t of this.stream.getTracks()) t.stop();
  }
}

// Scheduling margin for a turn's first chunk: enough to absorb a late second chunk
// without an audible gap, small enough not to delay the voice.
const START_LEAD_S = 0.08;

/**
 * NpcAudio → Web Audio. Chunks are queued back to back from the first one; the
 * playback clock (what the listener hears now) locates the chunk and viseme playing.
 */
export class Player {
  constructor(ctx, stats) {
    this.ctx = ctx;
    this.stats = stats;
    this.out = ctx.createGain();
    this.out.connect(ctx.destination);
    this.nextTime = 0;
    this.segments = []; // {turnId, start, end, offsetMs, visemes, src}
    this.dropped = new Set(); // turns stopped by a barge-in: late chunks are ignored
    this.played = new Map(); // turnId → ms of that turn's audio heard so far
    this.total = new Map(); // turnId → ms of that turn's audio received
  }

  /** The context time being heard now (the output latency taken off). */
  clock() {
    const ctx = this.ctx;
    if (ctx.getOutputTimestamp) {
      const ts = ctx.getOutputTimestamp();
      if (ts.contextTime !== undefined && ts.performanceTime) {
        return ts.contextTime + (performance.now() - ts.performanceTime) / 1000;
      }
    }
    return ctx.currentTime - (ctx.outputLatency || 0);
  }

  push(audio) {
    const turnId = audio.turnId || "";
    if (this.dropped.has(turnId)) return;
    const bytes = base64ToBytes(audio.pcm);
    const samples = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
    if (!samples.length) return;
    const rate = audio.sampleRateHz || this.ctx.sampleRate;
    const buf = this.ctx.createBuffer(1, samples.length, rate);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < samples.length; i++) ch[i] = samples[i] / 32768;
    const src = this.ctx.createBufferSource();
    src.buffer = buf;
    src.connect(this.out);
    const start = Math.max(this.nextTime, this.ctx.currentTime + START_LEAD_S);
    src.start(start);
    this.nextTime = start + buf.duration;
    const seg = {
      turnId,
      start,
      end: start + buf.duration,
      offsetMs: audio.offsetMs || 0,
      visemes: audio.visemes || [],
      src,
      stopped: false,
    };
    this.segments.push(seg);
    this.total.set(turnId, Math.max(this.total.get(turnId) || 0, seg.offsetMs + buf.duration * 1000));
    this.stats.chunksReceived++;
    this.stats.visemesReceived += seg.visemes.length;
    src.onended = () => {
      if (!seg.stopped) this.stats.chunksPlayed++;
      this.segments = this.segments.filter((s) => s !== seg);
    };
  }

  /** Stop a turn's queued audio now (barge-in); all turns when turnId is empty. */
  stop(turnId = "") {
    let stopped = 0;
    for (const seg of this.segments) {
      if (turnId && seg.turnId !== turnId) continue;
      seg.stopped = true;
      try {
        seg.src.stop();
      } catch {
        // never started: nothing to stop
      }
      stopped++;
    }
    if (turnId) this.dropped.add(turnId);
    else for (const seg of this.segments) this.dropped.add(seg.turnId);
    this.segments = this.segments.filter((s) => !s.stopped);
    if (!this.segments.length) this.nextTime = 0;
    return stopped;
  }

  /** Whether any audio is queued or playing. */
  get busy() {
    return this.segments.length > 0;
  }

  hasAudio(turnId) {
    return this.segments.some((s) => s.turnId === turnId);
  }

  /**
   * What plays now: {turnId, visemeId, weight} (visemeId "" between chunks), and
   * how far each turn's audio has been heard, for PlaybackProgress.
   */
  now() {
    const t = this.clock();
    for (const seg of this.segments) {
      if (seg.stopped || t < seg.start || t >= seg.end) continue;
      const ms = (t - seg.start) * 1000;
      this.played.set(seg.turnId, Math.max(this.played.get(seg.turnId) || 0, seg.offsetMs + ms));
      for (const v of seg.visemes) {
        const from = v.startMs || 0;
        if (ms >= from && ms < from + (v.durationMs || 0)) {
          return { turnId: seg.turnId, visemeId: v.id || "VISEME_SIL", weight: v.weight ?? 0 };
        }
      }
      return { turnId: seg.turnId, visemeId: "VISEME_SIL", weight: 0 };
    }
    return { turnId: "", visemeId: "", weight: 0 };
  }
}
