using System;
using System.Collections.Generic;

namespace NpcRuntime.Audio
{
    /// <summary>
    /// Cuts a stream of float microphone samples into s16le chunks of a fixed duration
    /// (100 ms by default) ready for <see cref="Protocol.AudioChunk"/>. Not thread-safe:
    /// push from one thread.
    /// </summary>
    public sealed class AudioFramer
    {
        private readonly float[] _pending;
        private int _filled;

        /// <summary>Creates a framer.</summary>
        /// <param name="sampleRate">Rate of the pushed samples, in Hz.</param>
        /// <param name="chunkMs">Duration of each chunk, in ms (10..1000).</param>
        public AudioFramer(int sampleRate = 16000, int chunkMs = 100)
        {
            if (sampleRate < 8000 || sampleRate > 48000) throw new ArgumentOutOfRangeException("sampleRate");
            if (chunkMs < 10 || chunkMs > 1000) throw new ArgumentOutOfRangeException("chunkMs");
            SampleRate = sampleRate;
            ChunkSamples = sampleRate * chunkMs / 1000;
            _pending = new float[ChunkSamples];
        }

        /// <summary>Sample rate of the input, in Hz.</summary>
        public int SampleRate { get; private set; }

        /// <summary>Samples per full chunk.</summary>
        public int ChunkSamples { get; private set; }

        /// <summary>Samples waiting for the next chunk.</summary>
        public int PendingSamples
        {
            get { return _filled; }
        }

        /// <summary>Adds samples; returns the chunks they completed (possibly none).</summary>
        public List<byte[]> Push(float[] samples, int offset, int count)
        {
            if (samples == null) throw new ArgumentNullException("samples");
            if (offset < 0 || count < 0 || offset + count > samples.Length) throw new ArgumentOutOfRangeException("count");
            var chunks = new List<byte[]>();
            while (count > 0)
            {
                int take = Math.Min(count, ChunkSamples - _filled);
                Array.Copy(samples, offset, _pending, _filled, take);
                _filled += take;
                offset += take;
                count -= take;
                if (_filled == ChunkSamples)
                {
                    var chunk = new byte[ChunkSamples * 2];
                    Pcm.FloatToS16le(_pending, 0, ChunkSamples, chunk, 0);
                    chunks.Add(chunk);
                    _filled = 0;
                }
            }
            return chunks;
        }

        /// <summary>Adds all of <paramref name="samples"/>.</summary>
        public List<byte[]> Push(float[] samples)
        {
            return Push(samples, 0, samples.Length);
        }

        /// <summary>Returns the partial chunk still pending (or null when none) and empties the framer.</summary>
        public byte[] Flush()
        {
            if (_filled == 0) return null;
            var chunk = new byte[_filled * 2];
            Pcm.FloatToS16le(_pending, 0, _filled, chunk, 0);
            _filled = 0;
            return chunk;
        }

        /// <summary>Drops pending samples.</summary>
        public void Reset()
        {
            _filled = 0;
        }
    }
}
