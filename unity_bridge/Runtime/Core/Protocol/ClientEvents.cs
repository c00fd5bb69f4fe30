using System.Collections.Generic;

namespace NpcRuntime.Protocol
{
    // Client → server messages: the members of the ClientEvent oneof in npc.proto.
    // Property names follow the proto fields; see the .proto for the full contract.

    /// <summary>A message the client sends to the server (one member of <c>ClientEvent</c>).</summary>
    public abstract class ClientEvent
    {
    }

    /// <summary>Format of PCM audio. Zero values mean the server defaults.</summary>
    public sealed class AudioFormat
    {
        /// <summary>8,000 to 48,000 Hz; 0 = 16,000 Hz in, 22,050 Hz out.</summary>
        public uint SampleRateHz { get; set; }
        /// <summary>Must be 1 (mono); 0 means 1.</summary>
        public uint Channels { get; set; }
        /// <summary>Only <see cref="Protocol.AudioEncoding.PcmS16le"/> in v1.</summary>
        public AudioEncoding Encoding { get; set; }

        /// <summary>Mono s16le PCM at <paramref name="sampleRateHz"/>.</summary>
        public static AudioFormat PcmS16le(uint sampleRateHz)
        {
            return new AudioFormat { SampleRateHz = sampleRateHz, Channels = 1, Encoding = AudioEncoding.PcmS16le };
        }
    }

    /// <summary>How the server decides that the player stopped talking.</summary>
    public sealed class EndpointingOptions
    {
        /// <summary>Silence that ends an utterance, in ms; 0 = the server default.</summary>
        public uint EndOfSpeechSilenceMs { get; set; }
        /// <summary>No voice activity detection: utterances end only with <see cref="AudioEnd"/>.</summary>
        public bool PushToTalkOnly { get; set; }
    }

    /// <summary>The first message of every session.</summary>
    public sealed class SessionStart : ClientEvent
    {
        /// <summary>Creates an empty SessionStart with empty metadata.</summary>
        public SessionStart()
        {
            Metadata = new Dictionary<string, string>();
        }

        /// <summary>Which character the NPC plays.</summary>
        public string CharacterId { get; set; }
        /// <summary>Stable id of the player; memory is keyed by it.</summary>
        public string PlayerId { get; set; }
        /// <summary>Format of the <see cref="AudioChunk"/>s the client sends.</summary>
        public AudioFormat InputAudio { get; set; }
        /// <summary>Format the client wants <see cref="NpcAudio"/> in; the server resamples.</summary>
        public AudioFormat OutputAudio { get; set; }
        /// <summary>Send timed visemes with <see cref="NpcAudio"/>.</summary>
        public bool Visemes { get; set; }
        /// <summary>BCP-47 language of the player's speech; empty = the character's.</summary>
        public string Language { get; set; }
        /// <summary>Optional initial scene.</summary>
        public SceneSnapshot Scene { get; set; }
        /// <summary>Resume an earlier session's conversation history.</summary>
        public string ResumeSessionId { get; set; }
        /// <summary>End-of-speech detection.</summary>
        public EndpointingOptions Endpointing { get; set; }
        /// <summary>Let the NPC speak its greeting as the first turn.</summary>
        public bool Greet { get; set; }
        /// <summary>Free-form client metadata (engine version, build...), logged only.</summary>
        public Dictionary<string, string> Metadata { get; set; }
        /// <summary>Text, emotion and actions only; no synthesis.</summary>
        public bool TextOnly { get; set; }
        /// <summary>Audio as fast as it is made instead of at playback pace (offline rendering).</summary>
        public bool UnpacedAudio { get; set; }
        /// <summary>The game clock in hours since any epoch (0 = not sent).</summary>
        public double GameTimeHours { get; set; }
    }

    /// <summary>Microphone audio in the session's input format (even byte length).</summary>
    public sealed class AudioChunk : ClientEvent
    {
        /// <summary>s16le mono PCM.</summary>
        public byte[] Pcm { get; set; }
    }

    /// <summary>The player released push-to-talk: the utterance ends now.</summary>
    public sealed class AudioEnd : ClientEvent
    {
    }

    /// <summary>Typed input instead of speech.</summary>
    public sealed class TextInput : ClientEvent
    {
        /// <summary>What the player typed.</summary>
        public string Text { get; set; }
    }

    /// <summary>A named game event, e.g. <c>player_looted_store</c>.</summary>
    public sealed class Trigger : ClientEvent
    {
        /// <summary>Creates a trigger with empty parameters.</summary>
        public Trigger()
        {
            Parameters = new Dictionary<string, string>();
        }

        /// <summary>The event name.</summary>
        public string Name { get; set; }
        /// <summary>Free parameters (e.g. <c>emotion</c>, <c>intensity</c>).</summary>
        public Dictionary<string, string> Parameters { get; set; }
        /// <summary>Ask the NPC to answer at once, without player speech.</summary>
        public bool React { get; set; }
        /// <summary>Scene node that caused the event, if any.</summary>
        public string SourceId { get; set; }
    }

    /// <summary>A delta to the scene graph (or a whole replacement).</summary>
    public sealed class SceneUpdate : ClientEvent
    {
        /// <summary>Creates an empty update.</summary>
        public SceneUpdate()
        {
            UpsertNodes = new List<SceneNode>();
            RemoveNodeIds = new List<string>();
            AddRelations = new List<SceneRelation>();
            RemoveRelations = new List<SceneRelation>();
        }

        /// <summary>The world the update applies to.</summary>
        public string WorldId { get; set; }
        /// <summary>Nodes added or changed (whole nodes).</summary>
        public List<SceneNode> UpsertNodes { get; set; }
        /// <summary>Ids of nodes removed.</summary>
        public List<string> RemoveNodeIds { get; set; }
        /// <summary>Relations added.</summary>
        public List<SceneRelation> AddRelations { get; set; }
        /// <summary>Relations removed.</summary>
        public List<SceneRelation> RemoveRelations { get; set; }
        /// <summary>When set, replaces the whole scene instead of applying a delta.</summary>
        public SceneSnapshot Replace { get; set; }

        /// <summary>True when the update changes nothing.</summary>
        public bool IsEmpty
        {
            get
            {
                return Replace == null && UpsertNodes.Count == 0 && RemoveNodeIds.Count == 0
                    && AddRelations.Count == 0 && RemoveRelations.Count == 0;
            }
        }
    }

    /// <summary>Progress of an <see cref="ActionCommand"/>.</summary>
    public sealed class ActionResult : ClientEvent
    {
        /// <summary>The command this reports on.</summary>
        public string CommandId { get; set; }
        /// <summary>Started, succeeded, failed or cancelled.</summary>
        public ActionStatus Status { get; set; }
        /// <summary>Free text for the NPC (why it failed, what happened).</summary>
        public string Detail { get; set; }
    }

    /// <summary>How much of a turn's audio the client has actually played.</summary>
    public sealed class PlaybackProgress : ClientEvent
    {
        /// <summary>The turn.</summary>
        public string TurnId { get; set; }
        /// <summary>Milliseconds of the turn's audio played.</summary>
        public uint PlayedMs { get; set; }
        /// <summary>All of the turn's audio was played.</summary>
        public bool Finished { get; set; }
    }

    /// <summary>Stop the current NPC turn now.</summary>
    public sealed class Interrupt : ClientEvent
    {
        /// <summary>The turn to stop; empty = whatever turn is running.</summary>
        public string TurnId { get; set; }
    }

    /// <summary>The game clock moved.</summary>
    public sealed class GameTime : ClientEvent
    {
        /// <summary>Hours since the game's epoch.</summary>
        public double Hours { get; set; }
    }
}
