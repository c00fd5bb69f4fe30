using System;
using System.Diagnostics;
using System.Threading;
using NpcRuntime.LipSync;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>
    /// Stands in for a game's audio output: reads the conversation's voice in 20 ms blocks at
    /// real-time pace (like OnAudioFilterRead), ticks progress reports and samples the mouth
    /// like a frame loop.
    /// </summary>
    internal sealed class PlaybackDevice : IDisposable
    {
        private const int BlockMs = 20;
        private readonly NpcConversation _conversation;
        private readonly Thread _thread;
        private volatile bool _stop;

        public PlaybackDevice(NpcConversation conversation)
        {
            _conversation = conversation;
            _thread = new Thread(Run) { IsBackground = true, Name = "playback device" };
            _thread.Start();
        }

        /// <summary>Blocks in which the mouth showed a viseme other than silence.</summary>
        public int SpeakingFrames { get; private set; }

        /// <summary>Distinct visemes seen.</summary>
        public int DistinctVisemes
        {
            get
            {
                int n = 0;
                foreach (bool b in _seen) n += b ? 1 : 0;
                return n;
            }
        }

        /// <summary>Samples of real audio played.</summary>
        public long PlayedSamples { get; private set; }

        private readonly bool[] _seen = new bool[VisemeScheduler.VisemeCount];

        private void Run()
        {
            int rate = _conversation.Playback.SampleRate;
            var block = new float[rate * BlockMs / 1000];
            float[] scratch = null;
            var clock = Stopwatch.StartNew();
            long blocks = 0;
            while (!_stop)
            {
                PlayedSamples += _conversation.ReadInterleaved(block, 1, ref scratch);
                VisemeFrame mouth = _conversation.CurrentViseme();
                if (mouth.Dominant != VisemeId.Sil)
                {
                    SpeakingFrames++;
                    _seen[(int)mouth.Dominant] = true;
                }
                _conversation.Tick(BlockMs);
                blocks++;
                long wait = blocks * BlockMs - clock.ElapsedMilliseconds;
                if (wait > 0) Thread.Sleep((int)wait);
            }
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join(2000);
        }
    }
}
