using System;
using NpcRuntime.Protocol;

namespace NpcRuntime
{
    /// <summary>Why a session ended.</summary>
    public sealed class SessionClosedInfo
    {
        /// <summary>Creates the description.</summary>
        public SessionClosedInfo(Exception exception, Error serverError, bool byClient)
        {
            Exception = exception;
            ServerError = serverError;
            ByClient = byClient;
        }

        /// <summary>The transport failure, or null for an orderly end.</summary>
        public Exception Exception { get; private set; }

        /// <summary>The final <see cref="Error"/> (session_alive false) the server sent, if any.</summary>
        public Error ServerError { get; private set; }

        /// <summary>True when the client closed or disposed the session.</summary>
        public bool ByClient { get; private set; }

        /// <summary>True when nothing went wrong.</summary>
        public bool Clean
        {
            get { return Exception == null && ServerError == null; }
        }

        /// <inheritdoc />
        public override string ToString()
        {
            if (Exception != null) return "transport failed: " + Exception.Message;
            if (ServerError != null) return "server ended the session: " + ServerError.Code + " " + ServerError.Message;
            return ByClient ? "closed by the client" : "closed by the server";
        }
    }
}
