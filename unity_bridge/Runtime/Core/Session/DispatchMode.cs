namespace NpcRuntime
{
    /// <summary>Where <see cref="NpcSession"/> raises its events.</summary>
    public enum DispatchMode
    {
        /// <summary>On the network thread, as events arrive (console tools, servers).</summary>
        Immediate,

        /// <summary>
        /// Queued until the owner calls <see cref="NpcSession.DispatchPending"/> (a game loop's
        /// Update, so handlers run on the main thread).
        /// </summary>
        Queued,
    }
}
