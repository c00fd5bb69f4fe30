using System;
using System.Threading;
using System.Threading.Tasks;
using NpcRuntime.Protocol;

namespace NpcRuntime.Transport
{
    /// <summary>
    /// One conversation stream to the server: ordered <see cref="ClientEvent"/>s out, ordered
    /// <see cref="ServerEvent"/>s in. <see cref="WebSocketTransport"/> implements it over the
    /// WebSocket gateway; a gRPC transport (see the package README) implements it over
    /// <c>Converse</c>. <see cref="NpcSession"/> never calls <see cref="SendAsync"/> concurrently,
    /// nor <see cref="ReceiveAsync"/>.
    /// </summary>
    public interface INpcTransport : IDisposable
    {
        /// <summary>Opens the stream.</summary>
        Task ConnectAsync(CancellationToken cancellationToken);

        /// <summary>Sends one event.</summary>
        Task SendAsync(ClientEvent clientEvent, CancellationToken cancellationToken);

        /// <summary>
        /// Receives the next event; null when the server ended the stream.
        /// Throws <see cref="FormatException"/> for a message it cannot read (the stream stays usable).
        /// </summary>
        Task<ServerEvent> ReceiveAsync(CancellationToken cancellationToken);

        /// <summary>Half-closes: the client sends nothing more; the server finishes and ends the stream.</summary>
        Task CloseOutputAsync(CancellationToken cancellationToken);
    }
}
