using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NpcRuntime.Protocol;
using NpcRuntime.Transport;

namespace NpcRuntime
{
    /// <summary>
    /// One conversation with an NPC: connects, sends <see cref="SessionStart"/>, then sends the
    /// player's audio, text and game events in order and raises an event for every server
    /// message. Sends may come from any thread; they leave in the order they were made.
    /// </summary>
    /// <example>
    /// <code>
    /// var session = NpcSession.OverWebSocket("ws://127.0.0.1:8765/v1/converse");
    /// session.TextReceived += t => Console.Write(t.Delta);
    /// await session.StartAsync(new SessionStart { CharacterId = "jin", PlayerId = "p1", TextOnly = true });
    /// await session.SendTextAsync("What soup do you have tonight?");
    /// </code>
    /// </example>
    public sealed partial class NpcSession : IDisposable
    {
        private readonly INpcTransport _transport;
        private readonly DispatchMode _dispatchMode;
        private readonly object _gate = new object();
        private readonly Queue<Outgoing> _outgoing = new Queue<Outgoing>();
        private readonly SemaphoreSlim _outgoingSignal = new SemaphoreSlim(0);
        private readonly Queue<ServerEvent> _incoming = new Queue<ServerEvent>();
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly TaskCompletionSource<SessionReady> _ready =
            new TaskCompletionSource<SessionReady>(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<SessionClosedInfo> _closed =
            new TaskCompletionSource<SessionClosedInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _started;
        private bool _closing;
        private Error _fatalError;
        private SessionClosedInfo _pendingClosed;

        /// <summary>Creates a session over <paramref name="transport"/>; nothing happens until <see cref="StartAsync"/>.</summary>
        public NpcSession(INpcTransport transport, DispatchMode dispatchMode = DispatchMode.Immediate)
        {
            if (transport == null) throw new ArgumentNullException("transport");
            _transport = transport;
            _dispatchMode = dispatchMode;
            // A failed start nobody awaited must not surface as an unobserved task exception.
            _ready.Task.ContinueWith(t => GC.KeepAlive(t.Exception), TaskContinuationOptions.OnlyOnFaulted);
        }

        /// <summary>A session over the WebSocket gateway at <paramref name="url"/> (<c>ws://host:port/v1/converse</c>).</summary>
        public static NpcSession OverWebSocket(string url, DispatchMode dispatchMode = DispatchMode.Immediate, IDictionary<string, string> headers = null)
        {
            return new NpcSession(new WebSocketTransport(new Uri(url), headers), dispatchMode);
        }

        /// <summary>The transport this session runs over.</summary>
        public INpcTransport Transport
        {
            get { return _transport; }
        }

        /// <summary>The server's <see cref="SessionReady"/>, once it arrived.</summary>
        public SessionReady Ready { get; private set; }

        /// <summary>True from <see cref="SessionReady"/> until the session closes.</summary>
        public bool IsOpen
        {
            get { return Ready != null && !_closed.Task.IsCompleted && !_closing; }
        }

        /// <summary>Completes when the session has ended, with the reason.</summary>
        public Task<SessionClosedInfo> Completion
        {
            get { return _closed.Task; }
        }

        /// <summary>
        /// Connects, sends <paramref name="start"/> and waits for <see cref="SessionReady"/>.
        /// Throws <see cref="NpcSessionException"/> when the server refuses the session (e.g. an
        /// unknown character) or ends it first.
        /// </summary>
        public async Task<SessionReady> StartAsync(SessionStart start, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (start == null) throw new ArgumentNullException("start");
            if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("the session was already started");
            try
            {
                await _transport.ConnectAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Finish(new SessionClosedInfo(e, null, false));
                throw new NpcSessionException("could not connect: " + e.Message, null, e);
            }
            var sending = Task.Run(SendLoop);
            var receiving = Task.Run(ReceiveLoop);
            GC.KeepAlive(sending);
            GC.KeepAlive(receiving);
            Task first = SendAsync(start);
            using (cancellationToken.Register(() => _ready.TrySetCanceled()))
            {
                try
                {
                    await first.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The session ended before SessionStart left; _ready carries the reason.
                }
                return await _ready.Task.ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Queues <paramref name="clientEvent"/>; the task completes when it was handed to the
        /// transport. Events leave in the order of the calls.
        /// </summary>
        public Task SendAsync(ClientEvent clientEvent)
        {
            if (clientEvent == null) throw new ArgumentNullException("clientEvent");
            var item = new Outgoing(clientEvent);
            lock (_gate)
            {
                if (_closing || _closed.Task.IsCompleted)
                {
                    item.Done.TrySetException(new InvalidOperationException("the session is closed"));
                    return item.Done.Task;
                }
                _outgoing.Enqueue(item);
            }
            _outgoingSignal.Release();
            return item.Done.Task;
        }

        /// <summary>
        /// Queues an event without waiting (for game loops). A failure closes the session and
        /// shows in <see cref="Closed"/>.
        /// </summary>
        public void Post(ClientEvent clientEvent)
        {
            SendAsync(clientEvent).ContinueWith(t => GC.KeepAlive(t.Exception), TaskContinuationOptions.OnlyOnFaulted);
        }

        /// <summary>
        /// Raises queued events on the calling thread (with <see cref="DispatchMode.Queued"/>);
        /// returns how many were raised.
        /// </summary>
        public int DispatchPending(int max = int.MaxValue)
        {
            int n = 0;
            while (n < max)
            {
                ServerEvent next;
                lock (_gate)
                {
                    if (_incoming.Count == 0) break;
                    next = _incoming.Dequeue();
                }
                Dispatch(next);
                n++;
            }
            SessionClosedInfo closed = null;
            lock (_gate)
            {
                if (_incoming.Count == 0 && _pendingClosed != null)
                {
                    closed = _pendingClosed;
                    _pendingClosed = null;
                }
            }
            if (closed != null) RaiseClosed(closed);
            return n;
        }

        /// <summary>
        /// Ends the session: waits for queued events to be sent, tells the server the client is
        /// done, and waits up to <paramref name="timeout"/> for the server to end the stream.
        /// </summary>
        public async Task CloseAsync(TimeSpan? timeout = null)
        {
            Task drained;
            lock (_gate)
            {
                if (_closing || _closed.Task.IsCompleted) return;
                var marker = new Outgoing(null);
                _outgoing.Enqueue(marker);
                drained = marker.Done.Task;
                _closing = true;
            }
            _outgoingSignal.Release();
            var limit = timeout ?? TimeSpan.FromSeconds(5);
            try
            {
                await Task.WhenAny(drained, Task.Delay(limit)).ConfigureAwait(false);
                using (var cts = new CancellationTokenSource(limit))
                {
                    await _transport.CloseOutputAsync(cts.Token).ConfigureAwait(false);
                }
                await Task.WhenAny(_closed.Task, Task.Delay(limit)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The socket may already be gone; closing is best effort.
            }
            Finish(new SessionClosedInfo(null, null, true));
        }

        /// <summary>Drops the connection at once.</summary>
        public void Dispose()
        {
            Finish(new SessionClosedInfo(null, null, true));
            _transport.Dispose();
        }

        private async Task SendLoop()
        {
            try
            {
                while (true)
                {
                    await _outgoingSignal.WaitAsync(_stop.Token).ConfigureAwait(false);
                    Outgoing item;
                    lock (_gate) item = _outgoing.Dequeue();
                    if (item.Event == null)
                    {
                        // The close marker: everything before it was sent.
                        item.Done.TrySetResult(true);
                        return;
                    }
                    try
                    {
                        await _transport.SendAsync(item.Event, _stop.Token).ConfigureAwait(false);
                        item.Done.TrySetResult(true);
                    }
                    catch (Exception e)
                    {
                        item.Done.TrySetException(e);
                        throw;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                Finish(new SessionClosedInfo(e, null, false));
            }
        }

        private async Task ReceiveLoop()
        {
            while (true)
            {
                ServerEvent received;
                try
                {
                    received = await _transport.ReceiveAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (FormatException e)
                {
                    Deliver(new UnknownServerEvent { Name = "unreadable: " + e.Message });
                    continue;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e)
                {
                    Finish(new SessionClosedInfo(e, _fatalError, false));
                    return;
                }
                if (received == null)
                {
                    Finish(new SessionClosedInfo(null, _fatalError, _closing));
                    return;
                }
                Deliver(received);
            }
        }

        private void Deliver(ServerEvent received)
        {
            var ready = received as SessionReady;
            if (ready != null)
            {
                Ready = ready;
                _ready.TrySetResult(ready);
            }
            var error = received as Error;
            if (error != null && !error.SessionAlive)
            {
                _fatalError = error;
                _ready.TrySetException(new NpcSessionException("the server refused the session: " + error.Code + ": " + error.Message, error));
            }
            if (_dispatchMode == DispatchMode.Immediate)
            {
                Dispatch(received);
                return;
            }
            lock (_gate) _incoming.Enqueue(received);
        }

        private void Finish(SessionClosedInfo info)
        {
            lock (_gate)
            {
                if (_closed.Task.IsCompleted) return;
                _closing = true;
                while (_outgoing.Count > 0) _outgoing.Dequeue().Done.TrySetException(new InvalidOperationException("the session closed"));
            }
            _ready.TrySetException(new NpcSessionException("the session ended before it was ready: " + info, info.ServerError, info.Exception));
            _stop.Cancel();
            if (_dispatchMode == DispatchMode.Queued)
            {
                lock (_gate) _pendingClosed = info;
            }
            _closed.TrySetResult(info);
            if (_dispatchMode == DispatchMode.Immediate) RaiseClosed(info);
        }

        private sealed class Outgoing
        {
            public readonly ClientEvent Event;
            public readonly TaskCompletionSource<bool> Done =
                new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

            public Outgoing(ClientEvent clientEvent)
            {
                Event = clientEvent;
            }
        }
    }
}
