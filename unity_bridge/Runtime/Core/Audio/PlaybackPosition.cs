namespace NpcRuntime.Audio
{
    /// <summary>How much of one NPC turn's audio has been played.</summary>
    public struct PlaybackPosition
    {
        /// <summary>Creates a position.</summary>
        public PlaybackPosition(string turnId, double playedMs, bool finished, bool dropped)
        {
            TurnId = turnId;
            PlayedMs = playedMs;
            Finished = finished;
            Dropped = dropped;
        }

        /// <summary>The turn, or null when nothing has played yet.</summary>
        public string TurnId { get; private set; }

        /// <summary>Milliseconds of the turn's audio handed to the speaker.</summary>
        public double PlayedMs { get; private set; }

        /// <summary>All of the turn's audio was played (the server's TurnEnd arrived and the buffer ran dry).</summary>
        public bool Finished { get; private set; }

        /// <summary>The turn was dropped before it finished (barge-in, interrupt).</summary>
        public bool Dropped { get; private set; }

        /// <summary>The <see cref="Protocol.PlaybackProgress"/> message reporting this position.</summary>
        public Protocol.PlaybackProgress ToMessage()
        {
            return new Protocol.PlaybackProgress
            {
                TurnId = TurnId,
                PlayedMs = (uint)PlayedMs,
                Finished = Finished,
            };
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return TurnId + " @" + PlayedMs.ToString("0") + " ms" + (Finished ? " finished" : "") + (Dropped ? " dropped" : "");
        }
    }
}
