namespace NpcRuntime.Protocol
{
    // Mirrors of the enums in protos/npc/v1/npc.proto; the numeric values are the wire values.

    /// <summary>PCM encoding of audio. Only signed 16-bit little-endian exists in v1.</summary>
    public enum AudioEncoding
    {
        /// <summary>Treated as <see cref="PcmS16le"/>.</summary>
        Unspecified = 0,
        /// <summary>Signed 16-bit little-endian PCM.</summary>
        PcmS16le = 1,
    }

    /// <summary>What a scene node is.</summary>
    public enum NodeKind
    {
        /// <summary>Not set.</summary>
        Unspecified = 0,
        /// <summary>A place (room, street, shop).</summary>
        Place = 1,
        /// <summary>A thing.</summary>
        Object = 2,
        /// <summary>A non-player character.</summary>
        Npc = 3,
        /// <summary>A player character.</summary>
        Player = 4,
    }

    /// <summary>How two scene nodes relate (subject → object).</summary>
    public enum RelationKind
    {
        /// <summary>Not set.</summary>
        Unspecified = 0,
        /// <summary>Subject is inside object (a place or container).</summary>
        In = 1,
        /// <summary>Subject rests on object.</summary>
        On = 2,
        /// <summary>Subject is held by a character.</summary>
        HeldBy = 3,
        /// <summary>Subject is near object.</summary>
        Near = 4,
        /// <summary>Walkable connection between two places.</summary>
        Connected = 5,
    }

    /// <summary>Progress of an <see cref="ActionCommand"/> as reported by the game.</summary>
    public enum ActionStatus
    {
        /// <summary>Not set.</summary>
        Unspecified = 0,
        /// <summary>The action finished as asked.</summary>
        Succeeded = 1,
        /// <summary>The action could not be done.</summary>
        Failed = 2,
        /// <summary>The action was stopped before it finished.</summary>
        Cancelled = 3,
        /// <summary>The action began.</summary>
        Started = 4,
    }

    /// <summary>Why an NPC turn started.</summary>
    public enum TurnCause
    {
        /// <summary>Not set.</summary>
        Unspecified = 0,
        /// <summary>The player spoke.</summary>
        Speech = 1,
        /// <summary>The player typed.</summary>
        Text = 2,
        /// <summary>A game trigger asked for a reaction.</summary>
        Trigger = 3,
        /// <summary>The greeting at session start.</summary>
        Greeting = 4,
        /// <summary>A scene change.</summary>
        Scene = 5,
    }

    /// <summary>The 15 OVR visemes, in the order of the OVR lip-sync blendshapes.</summary>
    public enum VisemeId
    {
        /// <summary>Silence, mouth at rest.</summary>
        Sil = 0,
        /// <summary>p, b, m.</summary>
        PP = 1,
        /// <summary>f, v.</summary>
        FF = 2,
        /// <summary>th.</summary>
        TH = 3,
        /// <summary>t, d.</summary>
        DD = 4,
        /// <summary>k, g.</summary>
        KK = 5,
        /// <summary>ch, j, sh.</summary>
        CH = 6,
        /// <summary>s, z.</summary>
        SS = 7,
        /// <summary>n, l.</summary>
        NN = 8,
        /// <summary>r.</summary>
        RR = 9,
        /// <summary>a as in "car".</summary>
        AA = 10,
        /// <summary>e as in "bed".</summary>
        E = 11,
        /// <summary>i as in "tip".</summary>
        IH = 12,
        /// <summary>o as in "toe".</summary>
        OH = 13,
        /// <summary>u as in "book".</summary>
        OU = 14,
    }

    /// <summary>The feeling an NPC shows.</summary>
    public enum EmotionCategory
    {
        /// <summary>Calm, no particular feeling.</summary>
        Neutral = 0,
        /// <summary>Happiness.</summary>
        Joy = 1,
        /// <summary>Sadness.</summary>
        Sadness = 2,
        /// <summary>Anger.</summary>
        Anger = 3,
        /// <summary>Fear.</summary>
        Fear = 4,
        /// <summary>Surprise.</summary>
        Surprise = 5,
        /// <summary>Disgust.</summary>
        Disgust = 6,
    }

    /// <summary>Error codes; the values are the gRPC status codes.</summary>
    public enum ErrorCode
    {
        /// <summary>Not set.</summary>
        Unspecified = 0,
        /// <summary>The message was malformed or out of range.</summary>
        InvalidArgument = 3,
        /// <summary>A deadline passed.</summary>
        DeadlineExceeded = 4,
        /// <summary>An id (e.g. a character) does not exist.</summary>
        NotFound = 5,
        /// <summary>The API key does not cover this character, world or call.</summary>
        PermissionDenied = 7,
        /// <summary>A size or session limit was hit.</summary>
        ResourceExhausted = 8,
        /// <summary>The request cannot be served in the current state.</summary>
        FailedPrecondition = 9,
        /// <summary>This server version does not handle the message.</summary>
        Unimplemented = 12,
        /// <summary>A server fault.</summary>
        Internal = 13,
        /// <summary>The server is busy or shutting down.</summary>
        Unavailable = 14,
        /// <summary>The API key is missing or not valid.</summary>
        Unauthenticated = 16,
    }
}
