using System;
using System.Collections.Generic;
using NpcRuntime.Protocol;

namespace NpcRuntime.Audio
{
    /// <summary>
    /// Buffers the NPC's incoming voice (<see cref="NpcAudio"/> chunks) for smooth playback.
    /// <list type="bullet">
    /// <item>Chunks are played in <c>sequence</c> order per turn; late duplicates are dropped, and a
    /// missing chunk is waited for at most <c>maxGapWaitMs</c> before it is skipped.</item>
    /// <item>A turn starts playing once <c>prebufferMs</c> of it is buffered, or once its
    /// <c>TurnEnd</c> arrived (<see cref="EndTurn"/>) for short lines.</item>
    /// <item>Turns play one after the other; <see cref="DropTurn"/> (barge-in) discards a turn's
    /// audio at once and ignores any of its chunks that still arrive.</item>
    /// <item><see cref="Position"/> and <see cref="TryTakeFinished"/> report what was played,
    /// for <see cref="PlaybackProgress"/> and for the viseme scheduler.</item>
    /// </list>
    /// Thread-safe: push from the network thread, <see cref="Read"/> from the audio thread.
    /// </summary>
    public sealed class AudioJitterBuffer
    {
        private const int MaxRememberedStaleTurns = 64;

        private readonly object _gate = new object();
        private readonly List<TurnAudio> _turns = new List<TurnAudio>();
        private readonly HashSet<string> _stale = new HashSet<string>();
        private readonly Queue<string> _staleOrder = new Queue<string>();
        private readonly Queue<PlaybackPosition> _finished = new Queue<PlaybackPosition>();
        private readonly int _prebufferSamples;
        private readonly int _maxGapWaitSamples;
        private PlaybackPosition _last;
        private bool _inUnderrun;

        /// <summary>Creates a buffer producing mono float samples at <paramref name="sampleRate"/>.</summary>
        /// <param name="sampleRate">Output rate; chunks at other rates are resampled.</param>
        /// <param name="prebufferMs">Audio to hold before a turn starts playing.</param>
        /// <param name="maxGapWaitMs">How long playback waits for a missing chunk before skipping it.</param>
        public AudioJitterBuffer(int sampleRate, int prebufferMs = 120, int maxGapWaitMs = 300)
        {
            if (sampleRate < 8000 || sampleRate > 192000) throw new ArgumentOutOfRangeException("sampleRate");
            SampleRate = sampleRate;
            _prebufferSamples = Pcm.MsToSamples(Math.Max(0, prebufferMs), sampleRate);
            _maxGapWaitSamples = Pcm.MsToSamples(Math.Max(0, maxGapWaitMs), sampleRate);
        }

        /// <summary>Output sample rate, in Hz.</summary>
        public int SampleRate { get; private set; }

        /// <summary>Times playback ran dry in the middle of a turn.</summary>
        public int Underruns { get; private set; }

        /// <summary>Chunks ignored: stale turns, duplicates, chunks older than the play head.</summary>
        public int DroppedChunks { get; private set; }

        /// <summary>The turn playing (or waiting to play) now, or null.</summary>
        public string CurrentTurnId
        {
            get
            {
                lock (_gate) return _turns.Count > 0 ? _turns[0].Id : null;
            }
        }

        /// <summary>True while a turn's audio is being played (after prebuffering).</summary>
        public bool IsPlaying
        {
            get
            {
                lock (_gate) return _turns.Count > 0 && _turns[0].Started;
            }
        }

        /// <summary>Milliseconds of audio buffered and not yet played, over all turns.</summary>
        public double BufferedMs
        {
            get
            {
                lock (_gate)
                {
                    long samples = 0;
                    foreach (var t in _turns) samples += t.BufferedSamples;
                    return Pcm.SamplesToMs(samples, SampleRate);
                }
            }
        }

        /// <summary>
        /// The position of the current turn, or of the last turn played when none is current.
        /// </summary>
        public PlaybackPosition Position
        {
            get
            {
                lock (_gate)
                {
                    if (_turns.Count == 0) return _last;
                    var t = _turns[0];
                    return new PlaybackPosition(t.Id, Pcm.SamplesToMs(t.PlayedSamples, SampleRate), false, false);
                }
            }
        }

        /// <summary>
        /// Adds a chunk. Returns false when it was ignored: its turn was dropped or has finished,
        /// or its sequence was already played or buffered.
        /// </summary>
        public bool Push(NpcAudio chunk)
        {
            if (chunk == null) throw new ArgumentNullException("chunk");
            if (string.IsNullOrEmpty(chunk.TurnId)) throw new ArgumentException("NpcAudio without a turn id");
            float[] samples = Pcm.S16leToFloat(chunk.Pcm ?? new byte[0]);
            int rate = chunk.SampleRateHz == 0 ? SampleRate : (int)chunk.SampleRateHz;
            samples = Pcm.Resample(samples, rate, SampleRate);
            lock (_gate)
            {
                if (_stale.Contains(chunk.TurnId))
                {
                    DroppedChunks++;
                    return false;
                }
                TurnAudio turn = Find(chunk.TurnId);
                if (turn == null)
                {
                    turn = new TurnAudio(chunk.TurnId);
                    _turns.Add(turn);
                }
                if (chunk.Sequence < turn.NextSequence || turn.Chunks.ContainsKey(chunk.Sequence) || turn.Ended && chunk.Sequence > turn.LastSequence)
                {
                    DroppedChunks++;
                    return false;
                }
                turn.Chunks.Add(chunk.Sequence, samples);
                turn.BufferedSamples += samples.Length;
                return true;
            }
        }

        /// <summary>
        /// The turn's <c>TurnEnd</c> arrived: no more audio will come, so what is buffered plays
        /// out even if shorter than the prebuffer, and the turn finishes when it runs dry.
        /// A turn with no audio at all finishes at once.
        /// </summary>
        public void EndTurn(string turnId)
        {
            lock (_gate)
            {
                if (_stale.Contains(turnId)) return;
                TurnAudio turn = Find(turnId);
                if (turn == null)
                {
                    turn = new TurnAudio(turnId);
                    _turns.Add(turn);
                }
                turn.Ended = true;
                turn.LastSequence = turn.Chunks.Count > 0 ? turn.Chunks.Keys[turn.Chunks.Count - 1] : turn.NextSequence;
                // A turn with no audio finishes now, if it is the current one.
                if (_turns[0] == turn && turn.Chunks.Count == 0 && turn.Current == null) Finish(turn, false);
            }
        }

        /// <summary>
        /// Barge-in: discards the turn's buffered audio now and ignores its later chunks.
        /// Its final position (what the player heard) is reported through <see cref="TryTakeFinished"/>.
        /// </summary>
        public void DropTurn(string turnId)
        {
            lock (_gate)
            {
                MarkStale(turnId);
                TurnAudio turn = Find(turnId);
                if (turn != null) Finish(turn, true);
            }
        }

        /// <summary>Drops every turn (e.g. on disconnect or a local barge-in with no turn id).</summary>
        public void Clear()
        {
            lock (_gate)
            {
                while (_turns.Count > 0)
                {
                    MarkStale(_turns[0].Id);
                    Finish(_turns[0], true);
                }
            }
        }

        /// <summary>
        /// Takes the final position of a turn that finished or was dropped since the last call
        /// (report it as <see cref="PlaybackProgress"/> with <c>finished</c>).
        /// </summary>
        public bool TryTakeFinished(out PlaybackPosition position)
        {
            lock (_gate)
            {
                if (_finished.Count == 0)
                {
                    position = default(PlaybackPosition);
                    return false;
                }
                position = _finished.Dequeue();
                return true;
            }
        }

        /// <summary>
        /// Fills <paramref name="dest"/> with the next mono samples; silence where there is no
        /// audio. Returns how many samples were real audio.
        /// </summary>
        public int Read(float[] dest, int offset, int count)
        {
            if (dest == null) throw new ArgumentNullException("dest");
            if (offset < 0 || count < 0 || offset + count > dest.Length) throw new ArgumentOutOfRangeException("count");
            int written = 0;
            lock (_gate)
            {
                while (written < count)
                {
                    int n = ReadSome(dest, offset + written, count - written);
                    if (n == 0) break;
                    written += n;
                }
            }
            Array.Clear(dest, offset + written, count - written);
            return written;
        }

        // Copies from the head turn; returns 0 when no audio can be produced right now.
        private int ReadSome(float[] dest, int offset, int count)
        {
            if (_turns.Count == 0) return 0;
            var turn = _turns[0];
            if (!turn.Started)
            {
                if (turn.BufferedSamples < _prebufferSamples && !turn.Ended) return 0;
                turn.Started = true;
            }
            if (turn.Current == null && !Advance(turn, count))
            {
                if (turn.Ended && turn.Chunks.Count == 0)
                {
                    Finish(turn, false);
                    return _turns.Count > 0 ? ReadSome(dest, offset, count) : 0;
                }
                if (!_inUnderrun)
                {
                    _inUnderrun = true;
                    Underruns++;
                }
                return 0;
            }
            _inUnderrun = false;
            int n = Math.Min(count, turn.Current.Length - turn.CurrentPos);
            Array.Copy(turn.Current, turn.CurrentPos, dest, offset, n);
            turn.CurrentPos += n;
            turn.PlayedSamples += n;
            turn.BufferedSamples -= n;
            if (turn.CurrentPos == turn.Current.Length)
            {
                turn.Current = null;
                turn.CurrentPos = 0;
            }
            return n;
        }

        // Makes the next chunk current; skips a missing chunk after waiting long enough.
        private bool Advance(TurnAudio turn, int wantedSamples)
        {
            if (turn.Chunks.Count == 0) return false;
            uint next = turn.Chunks.Keys[0];
            if (next != turn.NextSequence)
            {
                // A gap: wait for the missing chunk unless the turn is over or we waited enough.
                if (!turn.Ended && turn.GapWaitedSamples < _maxGapWaitSamples)
                {
                    turn.GapWaitedSamples += wantedSamples;
                    return false;
                }
            }
            turn.GapWaitedSamples = 0;
            turn.Current = turn.Chunks[next];
            turn.CurrentPos = 0;
            turn.Chunks.RemoveAt(0);
            turn.NextSequence = next + 1;
            return true;
        }

        private void Finish(TurnAudio turn, bool dropped)
        {
            _turns.Remove(turn);
            MarkStale(turn.Id); // a finished turn takes no more audio
            _last = new PlaybackPosition(turn.Id, Pcm.SamplesToMs(turn.PlayedSamples, SampleRate), !dropped, dropped);
            _finished.Enqueue(_last);
            _inUnderrun = false;
        }

        private void MarkStale(string turnId)
        {
            if (string.IsNullOrEmpty(turnId) || !_stale.Add(turnId)) return;
            _staleOrder.Enqueue(turnId);
            if (_staleOrder.Count > MaxRememberedStaleTurns) _stale.Remove(_staleOrder.Dequeue());
        }

        private TurnAudio Find(string turnId)
        {
            foreach (var t in _turns)
            {
                if (t.Id == turnId) return t;
            }
            return null;
        }

        private sealed class TurnAudio
        {
            public readonly string Id;
            public readonly SortedList<uint, float[]> Chunks = new SortedList<uint, float[]>();
            public uint NextSequence;
            public uint LastSequence;
            public float[] Current;
            public int CurrentPos;
            public long PlayedSamples;
            public long BufferedSamples;
            public long GapWaitedSamples;
            public bool Started;
            public bool Ended;

            public TurnAudio(string id)
            {
                Id = id;
            }
        }
    }
}
