using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NpcRuntime.Protocol;
using NpcRuntime.Transport;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>
    /// An in-memory transport that goes through the JSON text path both ways: what the
    /// session sends is kept as JSON text, what the "server" sends is JSON text parsed by
    /// <see cref="ProtoJson.ParseServerEvent"/>.
    /// </summary>
    internal sealed class FakeTransport : INpcTransport
    {
        private readonly object _gate = new object();
        private readonly Queue<string> _toClient = new Queue<string>();
        private readonly SemaphoreSlim _toClientSignal = new SemaphoreSlim(0);
        private readonly List<string> _sent = new List<string>();

        public bool ClosedByClient { get; private set; }

        public List<string> Sent
        {
            get
            {
                lock (_gate) return new List<string>(_sent);
            }
        }

        /// <summary>Queues one ServerEvent as JSON text; null ends the stream.</summary>
        public void ServerSends(string json)
        {
            lock (_gate) _toClient.Enqueue(json);
            _toClientSignal.Release();
        }

        /// <summary>Waits until the client has sent <paramref name="count"/> events.</summary>
        public List<string> WaitForSent(int count, int timeoutMs = 5000)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (DateTime.UtcNow < deadline)
            {
                var sent = Sent;
                if (sent.Count >= count) return sent;
                Thread.Sleep(2);
            }
            throw new AssertionException("the client sent " + Sent.Count + " events, expected " + count + ": " + string.Join(" ", Sent.ToArray()));
        }

        public Task ConnectAsync(CancellationToken cancellationToken)
        {
            return Task.FromResult(true);
        }

        public Task SendAsync(ClientEvent clientEvent, CancellationToken cancellationToken)
        {
            lock (_gate) _sent.Add(ProtoJson.Serialize(clientEvent));
            return Task.FromResult(true);
        }

        public async Task<ServerEvent> ReceiveAsync(CancellationToken cancellationToken)
        {
            await _toClientSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
            string json;
            lock (_gate) json = _toClient.Dequeue();
            return json == null ? null : ProtoJson.ParseServerEvent(json);
        }

        public Task CloseOutputAsync(CancellationToken cancellationToken)
        {
            ClosedByClient = true;
            ServerSends(null);
            return Task.FromResult(true);
        }

        public void Dispose()
        {
        }
    }
}
