using System;
using System.Threading;
using NpcRuntime.Audio;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>PCM conversion, microphone framing and the jitter buffer.</summary>
    internal static class AudioTests
    {
        private const int Rate = 16000;

        public static void Register(TestRunner t)
        {
            t.Run("pcm: float ⇄ s16le, clipping", PcmConversion);
            t.Run("framer: 100 ms chunks from odd-sized pushes, flush", Framing);
            t.Run("jitter: waits for the prebuffer, then plays in order", PrebufferThenPlay);
            t.Run("jitter: reorders by sequence, drops duplicates and late chunks", Reorders);
            t.Run("jitter: skips a missing chunk after the gap wait", SkipsGap);
            t.Run("jitter: short turn plays out on TurnEnd and reports finished", ShortTurnFinishes);
            t.Run("jitter: barge-in drops the turn and its later chunks", BargeInDrops);
            t.Run("jitter: turns play one after the other", TurnsQueue);
            t.Run("jitter: resamples chunks at another rate", Resamples);
            t.Run("jitter: concurrent push and read lose nothing", Concurrent);
        }

        private static void PcmConversion()
        {
            byte[] b = Pcm.FloatToS16le(new[] { 0f, 1f, -1f, 2f, -2f, 0.5f });
            float[] back = Pcm.S16leToFloat(b);
            Assert.Equal(12, b.Length, "two bytes per sample");
            Assert.Equal((short)32767, BitConverter.ToInt16(b, 2), "1.0");
            Assert.Equal((short)-32767, BitConverter.ToInt16(b, 4), "-1.0");
            Assert.Equal((short)32767, BitConverter.ToInt16(b, 6), "clipped high");
            Assert.Equal((short)-32767, BitConverter.ToInt16(b, 8), "clipped low");
            Assert.Near(0.5, back[5], 1.0 / 32768, "round trip");
            Assert.Equal(3, Pcm.S16leToFloat(new byte[7]).Length, "odd trailing byte ignored");
        }

        private static void Framing()
        {
            var framer = new AudioFramer(Rate, 100);
            Assert.Equal(1600, framer.ChunkSamples, "chunk samples");
            Assert.Equal(0, framer.Push(new float[1000]).Count, "no chunk yet");
            var chunks = framer.Push(Ramp(1000, 0));
            Assert.Equal(1, chunks.Count, "one chunk");
            Assert.Equal(3200, chunks[0].Length, "100 ms of s16le");
            Assert.Equal(400, framer.PendingSamples, "rest pending");
            Assert.Equal(800, framer.Flush().Length, "flush the rest");
            Assert.True(framer.Flush() == null, "nothing after flush");
            int total = 0;
            var rnd = new Random(1);
            int pushed = 0;
            while (pushed < Rate)
            {
                int n = Math.Min(Rate - pushed, rnd.Next(1, 700));
                foreach (var c in framer.Push(new float[n], 0, n)) total += c.Length;
                pushed += n;
            }
            Assert.Equal(Rate * 2, total, "one second in exact chunks");
        }

        private static void PrebufferThenPlay()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 100);
            buffer.Push(Chunk("t", 0, 800, 0.1f)); // 50 ms
            var out1 = new float[160];
            Assert.Equal(0, buffer.Read(out1, 0, 160), "prebuffering: silence");
            Assert.True(!buffer.IsPlaying, "not playing yet");
            buffer.Push(Chunk("t", 1, 800, 0.2f));
            var out2 = new float[1000];
            Assert.Equal(1000, buffer.Read(out2, 0, 1000), "plays once 100 ms are buffered");
            Assert.Near(0.1, out2[0], 1e-3, "first chunk first");
            Assert.Near(0.2, out2[900], 1e-3, "then the second");
            Assert.Near(62.5, buffer.Position.PlayedMs, 0.01, "played position");
            Assert.Equal("t", buffer.Position.TurnId, "position turn");
        }

        private static void Reorders()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 0);
            Assert.True(buffer.Push(Chunk("t", 1, 160, 0.2f)), "seq 1 accepted");
            Assert.True(buffer.Push(Chunk("t", 0, 160, 0.1f)), "seq 0 accepted");
            Assert.True(!buffer.Push(Chunk("t", 1, 160, 0.9f)), "duplicate dropped");
            var out1 = new float[320];
            buffer.Read(out1, 0, 320);
            Assert.Near(0.1, out1[0], 1e-3, "seq 0 plays first");
            Assert.Near(0.2, out1[200], 1e-3, "seq 1 next");
            Assert.True(!buffer.Push(Chunk("t", 0, 160, 0.9f)), "late chunk dropped");
            Assert.Equal(2, buffer.DroppedChunks, "dropped count");
        }

        private static void SkipsGap()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 0, maxGapWaitMs: 100);
            buffer.Push(Chunk("t", 0, 160, 0.1f));
            buffer.Push(Chunk("t", 2, 160, 0.3f));
            var block = new float[160]; // 10 ms audio callbacks
            Assert.Equal(160, buffer.Read(block, 0, 160), "seq 0");
            Assert.Near(0.1, block[0], 1e-3, "seq 0 value");
            int silent = 0;
            while (buffer.Read(block, 0, 160) == 0 && silent < 100) silent++;
            Assert.Equal(10, silent, "waited 100 ms for seq 1");
            Assert.Near(0.3, block[0], 1e-3, "then seq 2");
        }

        private static void ShortTurnFinishes()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 200);
            buffer.Push(Chunk("t", 0, 640, 0.5f)); // 40 ms
            var out1 = new float[1600];
            Assert.Equal(0, buffer.Read(out1, 0, 160), "below the prebuffer");
            buffer.EndTurn("t");
            Assert.Equal(640, buffer.Read(out1, 0, 1600), "plays out after TurnEnd");
            PlaybackPosition done;
            Assert.True(buffer.TryTakeFinished(out done), "finished reported");
            Assert.True(done.Finished && !done.Dropped, "finished, not dropped");
            Assert.Near(40, done.PlayedMs, 0.01, "played all 40 ms");
            Assert.True(!buffer.TryTakeFinished(out done), "reported once");
            Assert.True(buffer.CurrentTurnId == null, "no current turn");
            buffer.EndTurn("silent");
            Assert.True(buffer.TryTakeFinished(out done) && done.TurnId == "silent" && done.Finished, "a turn with no audio finishes at once");
        }

        private static void BargeInDrops()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 0);
            for (uint i = 0; i < 5; i++) buffer.Push(Chunk("a", i, 1600, 0.5f));
            var out1 = new float[1600];
            buffer.Read(out1, 0, 1600);
            buffer.DropTurn("a");
            Assert.Equal(0, buffer.Read(out1, 0, 1600), "silent right after barge-in");
            PlaybackPosition done;
            Assert.True(buffer.TryTakeFinished(out done), "dropped turn reported");
            Assert.True(done.Dropped && !done.Finished, "dropped");
            Assert.Near(100, done.PlayedMs, 0.01, "what was heard");
            Assert.True(!buffer.Push(Chunk("a", 5, 1600, 0.5f)), "stale chunk ignored");
            Assert.True(buffer.Push(Chunk("b", 0, 160, 0.7f)), "next turn accepted");
            buffer.Read(out1, 0, 160);
            Assert.Near(0.7, out1[0], 1e-3, "next turn plays");
        }

        private static void TurnsQueue()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 0);
            buffer.Push(Chunk("a", 0, 160, 0.1f));
            buffer.Push(Chunk("b", 0, 160, 0.2f));
            buffer.EndTurn("a");
            var out1 = new float[320];
            Assert.Equal(320, buffer.Read(out1, 0, 320), "both turns play");
            Assert.Near(0.1, out1[10], 1e-3, "a first");
            Assert.Near(0.2, out1[170], 1e-3, "then b");
            PlaybackPosition done;
            Assert.True(buffer.TryTakeFinished(out done) && done.TurnId == "a", "a finished");
            Assert.Equal("b", buffer.CurrentTurnId, "b current");
        }

        private static void Resamples()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 0);
            var chunk = Chunk("t", 0, 800, 0.25f);
            chunk.SampleRateHz = 8000;
            buffer.Push(chunk);
            Assert.Near(100, buffer.BufferedMs, 0.5, "100 ms at 8 kHz stays 100 ms");
        }

        private static void Concurrent()
        {
            var buffer = new AudioJitterBuffer(Rate, prebufferMs: 20);
            const int chunks = 200;
            var producer = new Thread(() =>
            {
                for (uint i = 0; i < chunks; i++)
                {
                    buffer.Push(Chunk("t", i, 160, 0.5f));
                    if (i % 10 == 0) Thread.Sleep(1);
                }
                buffer.EndTurn("t");
            });
            producer.Start();
            long real = 0;
            var out1 = new float[97];
            var deadline = DateTime.UtcNow.AddSeconds(10);
            PlaybackPosition done = default(PlaybackPosition);
            while (!buffer.TryTakeFinished(out done) && DateTime.UtcNow < deadline) real += buffer.Read(out1, 0, out1.Length);
            producer.Join();
            Assert.Equal(chunks * 160L, real, "every sample played once");
            Assert.True(done.Finished, "turn finished");
        }

        public static NpcAudio Chunk(string turn, uint seq, int samples, float value)
        {
            var f = new float[samples];
            for (int i = 0; i < samples; i++) f[i] = value;
            return new NpcAudio { TurnId = turn, Sequence = seq, Pcm = Pcm.FloatToS16le(f), SampleRateHz = Rate, OffsetMs = (uint)(seq * samples * 1000 / Rate) };
        }

        private static float[] Ramp(int n, float start)
        {
            var f = new float[n];
            for (int i = 0; i < n; i++) f[i] = start + i / (float)n;
            return f;
        }
    }
}
