using System;
using System.Collections.Generic;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NpcRuntime.Protocol;

namespace NpcRuntime.Transport
{
    /// <summary>
    /// <see cref="INpcTransport"/> over the server's WebSocket gateway
    /// (<c>ws://HOST:PORT/v1/converse</c>), one socket per session, each frame one
    /// <c>ClientEvent</c>/<c>ServerEvent</c> as proto3 JSON text. Works in WebGL-less Unity
    /// players, the editor and plain .NET/Mono.
    /// </summary>
    public sealed class WebSocketTransport : INpcTransport
    {
        /// <summary>Path of the gateway endpoint.</summary>
        public const string ConversePath = "/v1/converse";

        private readonly Uri _uri;
        private readonly ClientWebSocket _socket = new ClientWebSocket();
        private readonly byte[] _receiveBuffer = new byte[64 * 1024];
        private readonly int _maxMessageBytes;

        /// <summary>Creates a transport; nothing is connected until <see cref="ConnectAsync"/>.</summary>
        /// <param name="uri">
        /// <c>ws://host:port/v1/converse</c> or <c>wss://...</c>; a URI with no path gets
        /// <see cref="ConversePath"/>.
        /// </param>
        /// <param name="headers">Extra HTTP headers for the upgrade request (e.g. authorization); may be null.</param>
        /// <param name="maxMessageBytes">Largest server message accepted.</param>
        public WebSocketTransport(Uri uri, IDictionary<string, string> headers = null, int maxMessageBytes = 8 * 1024 * 1024)
        {
            if (uri == null) throw new ArgumentNullException("uri");
            if (uri.Scheme != "ws" && uri.Scheme != "wss") throw new ArgumentException("a WebSocket URI starts with ws:// or wss://");
            _uri = uri.AbsolutePath == "/" ? new Uri(uri, ConversePath) : uri;
            _maxMessageBytes = maxMessageBytes;
            _socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
            if (headers != null)
            {
                foreach (var kv in headers) _socket.Options.SetRequestHeader(kv.Key, kv.Value);
            }
        }

        /// <summary>The endpoint.</summary>
        public Uri Uri
        {
            get { return _uri; }
        }

        /// <inheritdoc />
        public Task ConnectAsync(CancellationToken cancellationToken)
        {
            return _socket.ConnectAsync(_uri, cancellationToken);
        }

        /// <inheritdoc />
        public Task SendAsync(ClientEvent clientEvent, CancellationToken cancellationToken)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(ProtoJson.Serialize(clientEvent));
            return _socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, cancellationToken);
        }

        /// <summary>Sends raw text as one frame (for tests of the server's error handling).</summary>
        public Task SendRawTextAsync(string text, CancellationToken cancellationToken)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            return _socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, cancellationToken);
        }

        /// <inheritdoc />
        public async Task<ServerEvent> ReceiveAsync(CancellationToken cancellationToken)
        {
            using (var message = new MemoryStream())
            {
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(new ArraySegment<byte>(_receiveBuffer), cancellationToken).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (_socket.State == WebSocketState.CloseReceived)
                        {
                            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cancellationToken).ConfigureAwait(false);
                        }
                        return null;
                    }
                    message.Write(_receiveBuffer, 0, result.Count);
                    if (message.Length > _maxMessageBytes) throw new IOException("a server message is larger than " + _maxMessageBytes + " bytes");
                }
                while (!result.EndOfMessage);
                if (result.MessageType != WebSocketMessageType.Text)
                {
                    throw new FormatException("a binary (protobuf) frame arrived on a JSON session");
                }
                string text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                return ProtoJson.ParseServerEvent(text);
            }
        }

        /// <inheritdoc />
        public async Task CloseOutputAsync(CancellationToken cancellationToken)
        {
            if (_socket.State == WebSocketState.Open || _socket.State == WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "client done", cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Closes the socket at once, without waiting for the server.</summary>
        public void Dispose()
        {
            _socket.Abort();
            _socket.Dispose();
        }
    }
}
