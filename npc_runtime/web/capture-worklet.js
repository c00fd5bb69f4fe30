// AudioWorklet: microphone samples at the context's rate → 16 kHz s16le chunks.
// Runs on the audio thread, so the main thread's hiccups never drop input.

const OUT_RATE = 16000;

class NpcCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    // sampleRate is the AudioWorkletGlobalScope's: the context's rate.
    this.ratio = sampleRate / OUT_RATE;
    this.chunk = new Int16Array(opts.chunkSamples || 640); // 40 ms at 16 kHz
    this.fill = 0;
    this.pos = 0;
    this.acc = 0;
    this.accN = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      // Box-filter decimation: each output sample is the mean of the input samples
      // in its window, a cheap low-pass that keeps most aliasing out of the ASR band.
      this.acc += channel[i];
      this.accN++;
      this.pos += 1;
      if (this.pos >= this.ratio) {
        this.pos -= this.ratio;
        const v = Math.max(-1, Math.min(1, this.acc / this.accN));
        this.acc = 0;
        this.accN = 0;
        this.peak = Math.max(this.peak, Math.abs(v));
        this.chunk[this.fill++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        if (this.fill === this.chunk.length) {
          const out = this.chunk.slice();
          this.port.postMessage({ pcm: out.buffer, peak: this.peak }, [out.buffer]);
          this.fill = 0;
          this.peak = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("npc-capture", NpcCapture);
