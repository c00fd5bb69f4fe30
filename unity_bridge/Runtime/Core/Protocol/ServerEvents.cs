using System.Collections.Generic;

namespace NpcRuntime.Protocol
{
    // Server → client messages: the members of the ServerEvent oneof in npc.proto.

    /// <summary>A message the server sends (one member of <c>ServerEvent</c>).</summary>
    public abstract class ServerEvent
    {
    }

    /// <summary>A server event this client version does not know (a newer server); ignored safely.</summary>
    public sealed class UnknownServerEvent : ServerEvent
    {
        /// <summary>The oneof member name, e.g. <c>"gameTime"</c>.</summary>
        public string Name { get; set; }
    }

    /// <summary>The session is open; the formats the server will use.</summary>
    public sealed class SessionReady : ServerEvent
    {
        /// <summary>Id of this session (pass it as <see cref="SessionStart.ResumeSessionId"/> to resume).</summary>
        public string SessionId { get; set; }
        /// <summary>The character played.</summary>
        public CharacterInfo Character { get; set; }
        /// <summary>Input format actually used.</summary>
        public AudioFormat InputAudio { get; set; }
        /// <summary>Output format actually used.</summary>
        public AudioFormat OutputAudio { get; set; }
        /// <summary>Server version string.</summary>
        public string ServerVersion { get; set; }
        /// <summary>End-of-speech silence in force, in ms.</summary>
        public uint EndOfSpeechSilenceMs { get; set; }
    }

    /// <summary>Voice activity began; an NPC turn in progress is being interrupted.</summary>
    public sealed class SpeechStarted : ServerEvent
    {
        /// <summary>Id of the utterance.</summary>
        public string UtteranceId { get; set; }
        /// <summary>Offset of the speech start in the session's input audio, in ms.</summary>
        public uint AudioOffsetMs { get; set; }
    }

    /// <summary>What the player said.</summary>
    public sealed class UserTranscript : ServerEvent
    {
        /// <summary>Id of the utterance.</summary>
        public string UtteranceId { get; set; }
        /// <summary>The transcript.</summary>
        public string Text { get; set; }
        /// <summary>Final (not a partial hypothesis).</summary>
        public bool IsFinal { get; set; }
        /// <summary>Detected language.</summary>
        public string Language { get; set; }
        /// <summary>Duration of the utterance audio, in ms.</summary>
        public uint AudioMs { get; set; }
    }

    /// <summary>An NPC turn began.</summary>
    public sealed class TurnStarted : ServerEvent
    {
        /// <summary>The turn id every later event of the turn carries.</summary>
        public string TurnId { get; set; }
        /// <summary>Speech, text, trigger, greeting or scene.</summary>
        public TurnCause Cause { get; set; }
        /// <summary>What the NPC is answering.</summary>
        public string InputText { get; set; }
        /// <summary>The utterance answered, for speech turns.</summary>
        public string UtteranceId { get; set; }
    }

    /// <summary>A piece of the NPC's spoken line, in order.</summary>
    public sealed class NpcText : ServerEvent
    {
        /// <summary>The turn.</summary>
        public string TurnId { get; set; }
        /// <summary>Text to append.</summary>
        public string Delta { get; set; }
    }

    /// <summary>One viseme within an <see cref="NpcAudio"/> chunk.</summary>
    public sealed class Viseme
    {
        /// <summary>Which mouth shape.</summary>
        public VisemeId Id { get; set; }
        /// <summary>Start, in ms from the first sample of its chunk.</summary>
        public uint StartMs { get; set; }
        /// <summary>Duration in ms.</summary>
        public uint DurationMs { get; set; }
        /// <summary>Strength, 0..1.</summary>
        public float Weight { get; set; }
    }

    /// <summary>A chunk of the NPC's voice.</summary>
    public sealed class NpcAudio : ServerEvent
    {
        /// <summary>Creates a chunk with no visemes.</summary>
        public NpcAudio()
        {
            Visemes = new List<Viseme>();
        }

        /// <summary>The turn.</summary>
        public string TurnId { get; set; }
        /// <summary>0, 1, 2... within the turn.</summary>
        public uint Sequence { get; set; }
        /// <summary>s16le mono PCM.</summary>
        public byte[] Pcm { get; set; }
        /// <summary>Sample rate of <see cref="Pcm"/>.</summary>
        public uint SampleRateHz { get; set; }
        /// <summary>Visemes during this chunk (when asked for).</summary>
        public List<Viseme> Visemes { get; set; }
        /// <summary>Position of the first sample within the turn's audio, in ms.</summary>
        public uint OffsetMs { get; set; }
        /// <summary>Index of the sentence this chunk belongs to.</summary>
        public uint SentenceIndex { get; set; }

        /// <summary>Duration of <see cref="Pcm"/> in ms.</summary>
        public double DurationMs
        {
            get { return SampleRateHz == 0 || Pcm == null ? 0 : Pcm.Length / 2 * 1000.0 / SampleRateHz; }
        }
    }

    /// <summary>The NPC's feeling; an empty turn id means it came from a trigger.</summary>
    public sealed class Emotion : ServerEvent
    {
        /// <summary>The turn, or empty.</summary>
        public string TurnId { get; set; }
        /// <summary>The feeling.</summary>
        public EmotionCategory Category { get; set; }
        /// <summary>0..1.</summary>
        public float Intensity { get; set; }
        /// <summary>Relationship trust, -1..1.</summary>
        public float Trust { get; set; }
        /// <summary>Relationship affinity, -1..1.</summary>
        public float Affinity { get; set; }
    }

    /// <summary>Something the NPC wants its body to do in the game.</summary>
    public sealed class ActionCommand : ServerEvent
    {
        /// <summary>Creates a command with no arguments.</summary>
        public ActionCommand()
        {
            Arguments = new Dictionary<string, string>();
        }

        /// <summary>The turn.</summary>
        public string TurnId { get; set; }
        /// <summary>Id to report in <see cref="ActionResult.CommandId"/>.</summary>
        public string CommandId { get; set; }
        /// <summary>move_to, pick_up, emote... or a verb the character declares.</summary>
        public string Verb { get; set; }
        /// <summary>Scene node the verb acts on, if any.</summary>
        public string TargetId { get; set; }
        /// <summary>Verb arguments.</summary>
        public Dictionary<string, string> Arguments { get; set; }
        /// <summary>Steps of one plan share a plan id.</summary>
        public string PlanId { get; set; }
        /// <summary>Order within the plan.</summary>
        public uint StepIndex { get; set; }
        /// <summary>Steps in the plan.</summary>
        public uint StepCount { get; set; }
    }

    /// <summary>Where the time of one turn went, in ms (see npc.proto for each field).</summary>
    public sealed class TurnTimings
    {
        /// <summary>Silence waited before the utterance was declared over.</summary>
        public double EndOfSpeechMs { get; set; }
        /// <summary>Speech recognition.</summary>
        public double AsrMs { get; set; }
        /// <summary>Memory and knowledge recall.</summary>
        public double RecallMs { get; set; }
        /// <summary>LLM request to first token.</summary>
        public double LlmFirstTokenMs { get; set; }
        /// <summary>LLM request to first complete sentence.</summary>
        public double FirstSentenceMs { get; set; }
        /// <summary>Synthesis of the first sentence.</summary>
        public double TtsFirstAudioMs { get; set; }
        /// <summary>First audio handed to the transport.</summary>
        public double FirstAudioSentAtMs { get; set; }
        /// <summary>First text handed to the transport.</summary>
        public double FirstTextSentAtMs { get; set; }
        /// <summary>Whole LLM generation.</summary>
        public double LlmTotalMs { get; set; }
        /// <summary>All synthesis.</summary>
        public double TtsTotalMs { get; set; }
        /// <summary>Reference point to TurnEnd.</summary>
        public double TotalMs { get; set; }
        /// <summary>Audio produced.</summary>
        public double AudioMs { get; set; }
        /// <summary>Prompt tokens.</summary>
        public uint LlmPromptTokens { get; set; }
        /// <summary>Prompt tokens served from cache.</summary>
        public uint LlmCachedTokens { get; set; }
        /// <summary>Generated tokens.</summary>
        public uint LlmCompletionTokens { get; set; }
    }

    /// <summary>A turn ended (normally or interrupted); follows its last audio.</summary>
    public sealed class TurnEnd : ServerEvent
    {
        /// <summary>The turn.</summary>
        public string TurnId { get; set; }
        /// <summary>Stopped early (barge-in, interrupt).</summary>
        public bool Interrupted { get; set; }
        /// <summary>Per-stage timings.</summary>
        public TurnTimings Timings { get; set; }
        /// <summary>The full line the NPC meant to say.</summary>
        public string Text { get; set; }
        /// <summary>The part the player heard (kept in history).</summary>
        public string HeardText { get; set; }
        /// <summary>Why the turn ended early.</summary>
        public string Reason { get; set; }
    }

    /// <summary>An error; <see cref="SessionAlive"/> says whether the session goes on.</summary>
    public sealed class Error : ServerEvent
    {
        /// <summary>What kind of error.</summary>
        public ErrorCode Code { get; set; }
        /// <summary>Human-readable explanation.</summary>
        public string Message { get; set; }
        /// <summary>True: the session goes on; false: the server is closing it.</summary>
        public bool SessionAlive { get; set; }
        /// <summary>The turn it concerns, if any.</summary>
        public string TurnId { get; set; }
    }

    /// <summary>A character's public description.</summary>
    public sealed class CharacterInfo
    {
        /// <summary>Creates an empty description.</summary>
        public CharacterInfo()
        {
            Verbs = new List<string>();
        }

        /// <summary>Character id.</summary>
        public string Id { get; set; }
        /// <summary>Display name.</summary>
        public string Name { get; set; }
        /// <summary>Public description.</summary>
        public string Description { get; set; }
        /// <summary>Language.</summary>
        public string Language { get; set; }
        /// <summary>Greeting line.</summary>
        public string Greeting { get; set; }
        /// <summary>Voice name.</summary>
        public string Voice { get; set; }
        /// <summary>Verbs the character may use in <see cref="ActionCommand"/>s.</summary>
        public List<string> Verbs { get; set; }
        /// <summary>Resting emotion.</summary>
        public EmotionCategory BaselineEmotion { get; set; }
    }
}
