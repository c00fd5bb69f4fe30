using System;
using NpcRuntime.Protocol;

namespace NpcRuntime
{
    /// <summary>The server refused or ended the session.</summary>
    public sealed class NpcSessionException : Exception
    {
        /// <summary>Creates the exception from the server's <see cref="Error"/> event, if any.</summary>
        public NpcSessionException(string message, Error serverError = null, Exception inner = null)
            : base(message, inner)
        {
            ServerError = serverError;
        }

        /// <summary>The server's error event, when there was one.</summary>
        public Error ServerError { get; private set; }

        /// <summary>The server's error code, or <see cref="ErrorCode.Unspecified"/>.</summary>
        public ErrorCode Code
        {
            get { return ServerError == null ? ErrorCode.Unspecified : ServerError.Code; }
        }
    }
}
