using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>Records a live session's events and waits for the ones a test expects.</summary>
    internal sealed class EventRecorder
    {
        private readonly object _gate = new object();
        private readonly List<ServerEvent> _events = new List<ServerEvent>();
        private readonly List<long> _times = new List<long>();
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public EventRecorder(NpcSession session)
        {
            session.EventReceived += e =>
            {
                lock (_gate)
                {
                    _events.Add(e);
                    _times.Add(_clock.ElapsedMilliseconds);
                    Monitor.PulseAll(_gate);
                }
            };
        }

        /// <summary>Index of the next event; pass it to <see cref="WaitFor{T}"/> to ignore older ones.</summary>
        public int Mark()
        {
            lock (_gate) return _events.Count;
        }

        /// <summary>The events of type <typeparamref name="T"/> from <paramref name="from"/> on.</summary>
        public List<T> All<T>(int from = 0, Func<T, bool> match = null) where T : ServerEvent
        {
            var result = new List<T>();
            lock (_gate)
            {
                for (int i = from; i < _events.Count; i++)
                {
                    var e = _events[i] as T;
                    if (e != null && (match == null || match(e))) result.Add(e);
                }
            }
            return result;
        }

        /// <summary>Position of <paramref name="e"/> in the stream.</summary>
        public int IndexOf(ServerEvent e)
        {
            lock (_gate) return _events.IndexOf(e);
        }

        /// <summary>Waits for the first event of type <typeparamref name="T"/> matching <paramref name="match"/> from <paramref name="from"/> on; null on timeout.</summary>
        public T WaitFor<T>(int from, int timeoutMs, Func<T, bool> match = null) where T : ServerEvent
        {
            var deadline = _clock.ElapsedMilliseconds + timeoutMs;
            lock (_gate)
            {
                while (true)
                {
                    for (int i = from; i < _events.Count; i++)
                    {
                        var e = _events[i] as T;
                        if (e != null && (match == null || match(e))) return e;
                    }
                    long left = deadline - _clock.ElapsedMilliseconds;
                    if (left <= 0) return null;
                    Monitor.Wait(_gate, (int)Math.Min(left, 500));
                }
            }
        }

        /// <summary>Like <see cref="WaitFor{T}"/> but fails the test on timeout.</summary>
        public T Expect<T>(int from, int timeoutMs, string what, Func<T, bool> match = null) where T : ServerEvent
        {
            var e = WaitFor(from, timeoutMs, match);
            if (e == null) throw new AssertionException("no " + typeof(T).Name + " (" + what + ") within " + timeoutMs + " ms; got: " + Describe(from));
            return e;
        }

        /// <summary>A short listing of the events from <paramref name="from"/> on.</summary>
        public string Describe(int from = 0)
        {
            var parts = new List<string>();
            lock (_gate)
            {
                for (int i = from; i < _events.Count; i++)
                {
                    var err = _events[i] as Error;
                    parts.Add(err != null ? "Error(" + err.Code + ": " + err.Message + ")" : _events[i].GetType().Name);
                }
            }
            return parts.Count == 0 ? "nothing" : string.Join(", ", parts.ToArray());
        }
    }
}
