using System;
using System.Collections.Generic;
using NpcRuntime.Protocol;

namespace NpcRuntime.LipSync
{
    /// <summary>
    /// Turns the visemes carried by <see cref="NpcAudio"/> chunks into a mouth shape for a
    /// playback position: given how many ms of a turn have been played (see
    /// <see cref="Audio.AudioJitterBuffer.Position"/>), <see cref="Evaluate"/> says which
    /// viseme shows and how strongly, cross-fading from the previous one over
    /// <see cref="CrossFadeMs"/>. Thread-safe.
    /// </summary>
    public sealed class VisemeScheduler
    {
        /// <summary>Number of OVR visemes (the length of a weights array).</summary>
        public const int VisemeCount = 15;

        private const int MaxTurns = 8;

        private readonly object _gate = new object();
        private readonly Dictionary<string, List<Timed>> _turns = new Dictionary<string, List<Timed>>();
        private readonly Queue<string> _order = new Queue<string>();

        /// <summary>Creates a scheduler.</summary>
        /// <param name="crossFadeMs">Blend time between consecutive visemes, in ms.</param>
        public VisemeScheduler(float crossFadeMs = 60f)
        {
            if (crossFadeMs < 0) throw new ArgumentOutOfRangeException("crossFadeMs");
            CrossFadeMs = crossFadeMs;
        }

        /// <summary>Blend time between consecutive visemes, in ms.</summary>
        public float CrossFadeMs { get; private set; }

        /// <summary>Adds the visemes of a chunk (their times are made relative to the turn).</summary>
        public void Add(NpcAudio chunk)
        {
            if (chunk == null) throw new ArgumentNullException("chunk");
            if (chunk.Visemes == null || chunk.Visemes.Count == 0) return;
            lock (_gate)
            {
                List<Timed> list;
                if (!_turns.TryGetValue(chunk.TurnId, out list))
                {
                    list = new List<Timed>();
                    _turns[chunk.TurnId] = list;
                    _order.Enqueue(chunk.TurnId);
                    while (_order.Count > MaxTurns) _turns.Remove(_order.Dequeue());
                }
                foreach (var v in chunk.Visemes)
                {
                    var t = new Timed
                    {
                        Id = v.Id,
                        StartMs = chunk.OffsetMs + (double)v.StartMs,
                        EndMs = chunk.OffsetMs + (double)v.StartMs + v.DurationMs,
                        Weight = Clamp01(v.Weight),
                    };
                    int at = list.Count;
                    while (at > 0 && list[at - 1].StartMs > t.StartMs) at--;
                    list.Insert(at, t);
                }
            }
        }

        /// <summary>Forgets a turn's visemes.</summary>
        public void DropTurn(string turnId)
        {
            lock (_gate) _turns.Remove(turnId);
        }

        /// <summary>Forgets everything.</summary>
        public void Clear()
        {
            lock (_gate)
            {
                _turns.Clear();
                _order.Clear();
            }
        }

        /// <summary>Number of visemes held for a turn.</summary>
        public int Count(string turnId)
        {
            lock (_gate)
            {
                List<Timed> list;
                return _turns.TryGetValue(turnId ?? "", out list) ? list.Count : 0;
            }
        }

        /// <summary>
        /// The mouth <paramref name="playedMs"/> into the turn. Before the first viseme, after
        /// the last, in gaps and for unknown turns this fades to <see cref="VisemeId.Sil"/>.
        /// </summary>
        public VisemeFrame Evaluate(string turnId, double playedMs)
        {
            lock (_gate)
            {
                List<Timed> list;
                if (turnId == null || !_turns.TryGetValue(turnId, out list) || list.Count == 0) return VisemeFrame.Silence;
                int i = LastStartingAtOrBefore(list, playedMs);
                if (i < 0) return VisemeFrame.Silence;
                Timed cur = list[i];
                if (playedMs >= cur.EndMs)
                {
                    // In a gap or after the end: fade from this viseme to rest.
                    float outAlpha = Alpha(playedMs - cur.EndMs);
                    return new VisemeFrame
                    {
                        Current = VisemeId.Sil,
                        CurrentWeight = outAlpha,
                        Previous = cur.Id,
                        PreviousWeight = (1 - outAlpha) * cur.Weight,
                    };
                }
                float alpha = Alpha(playedMs - cur.StartMs);
                VisemeId prevId = VisemeId.Sil;
                float prevWeight = 1f;
                if (i > 0 && list[i - 1].EndMs >= cur.StartMs - 1)
                {
                    prevId = list[i - 1].Id;
                    prevWeight = list[i - 1].Weight;
                }
                return new VisemeFrame
                {
                    Current = cur.Id,
                    CurrentWeight = alpha * cur.Weight,
                    Previous = prevId,
                    PreviousWeight = (1 - alpha) * prevWeight,
                };
            }
        }

        /// <summary>
        /// Writes the weight of every viseme at <paramref name="playedMs"/> into
        /// <paramref name="weights"/> (length <see cref="VisemeCount"/>, indexed by <see cref="VisemeId"/>).
        /// </summary>
        public VisemeFrame Evaluate(string turnId, double playedMs, float[] weights)
        {
            if (weights == null || weights.Length < VisemeCount) throw new ArgumentException("weights needs " + VisemeCount + " entries");
            VisemeFrame frame = Evaluate(turnId, playedMs);
            Array.Clear(weights, 0, VisemeCount);
            weights[(int)frame.Current] += frame.CurrentWeight;
            weights[(int)frame.Previous] += frame.PreviousWeight;
            return frame;
        }

        private float Alpha(double sinceMs)
        {
            if (CrossFadeMs <= 0) return 1f;
            return Clamp01((float)(sinceMs / CrossFadeMs));
        }

        private static int LastStartingAtOrBefore(List<Timed> list, double ms)
        {
            int lo = 0, hi = list.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) / 2;
                if (list[mid].StartMs <= ms)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }
            return found;
        }

        private static float Clamp01(float f)
        {
            return f < 0 ? 0 : (f > 1 ? 1 : f);
        }

        private struct Timed
        {
            public VisemeId Id;
            public double StartMs;
            public double EndMs;
            public float Weight;
        }
    }
}
