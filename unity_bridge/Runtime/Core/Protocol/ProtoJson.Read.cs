using System;
using System.Collections.Generic;
using NpcRuntime.Json;

namespace NpcRuntime.Protocol
{
    public static partial class ProtoJson
    {
        /// <summary>
        /// Reads the JSON text of one <c>ServerEvent</c>. Unknown fields are ignored; an
        /// unknown event member yields an <see cref="UnknownServerEvent"/>.
        /// </summary>
        /// <exception cref="FormatException">The text is not a valid ServerEvent.</exception>
        public static ServerEvent ParseServerEvent(string json)
        {
            var root = JsonReader.Parse(json) as Dictionary<string, object>;
            if (root == null) throw new FormatException("a ServerEvent must be a JSON object");
            if (root.Count == 0) throw new FormatException("the ServerEvent has no event set");
            string name = null;
            object body = null;
            foreach (var kv in root)
            {
                if (name != null) throw new FormatException("a ServerEvent has exactly one event, got " + name + " and " + kv.Key);
                name = kv.Key;
                body = kv.Value;
            }
            return ReadServerEvent(name, JsonFields.From(body, name));
        }

        /// <summary>Reads a scene snapshot written by <see cref="Serialize(SceneSnapshot)"/>.</summary>
        public static SceneSnapshot ParseSceneSnapshot(string json)
        {
            return ReadSnapshot(JsonFields.From(JsonReader.Parse(json), "SceneSnapshot"));
        }

        private static ServerEvent ReadServerEvent(string name, JsonFields f)
        {
            switch (name)
            {
                case "sessionReady":
                case "session_ready":
                    return new SessionReady
                    {
                        SessionId = f.String("sessionId", "session_id"),
                        Character = f.Has("character", null) ? ReadCharacter(f.Object("character")) : null,
                        InputAudio = ReadFormat(f, "inputAudio", "input_audio"),
                        OutputAudio = ReadFormat(f, "outputAudio", "output_audio"),
                        ServerVersion = f.String("serverVersion", "server_version"),
                        EndOfSpeechSilenceMs = f.UInt("endOfSpeechSilenceMs", "end_of_speech_silence_ms"),
                    };
                case "speechStarted":
                case "speech_started":
                    return new SpeechStarted
                    {
                        UtteranceId = f.String("utteranceId", "utterance_id"),
                        AudioOffsetMs = f.UInt("audioOffsetMs", "audio_offset_ms"),
                    };
                case "userTranscript":
                case "user_transcript":
                    return new UserTranscript
                    {
                        UtteranceId = f.String("utteranceId", "utterance_id"),
                        Text = f.String("text"),
                        IsFinal = f.Bool("isFinal", "is_final"),
                        Language = f.String("language"),
                        AudioMs = f.UInt("audioMs", "audio_ms"),
                    };
                case "turnStarted":
                case "turn_started":
                    return new TurnStarted
                    {
                        TurnId = f.String("turnId", "turn_id"),
                        Cause = f.Enum<TurnCause>("cause"),
                        InputText = f.String("inputText", "input_text"),
                        UtteranceId = f.String("utteranceId", "utterance_id"),
                    };
                case "npcText":
                case "npc_text":
                    return new NpcText { TurnId = f.String("turnId", "turn_id"), Delta = f.String("delta") };
                case "npcAudio":
                case "npc_audio":
                    return ReadAudio(f);
                case "emotion":
                    return new Emotion
                    {
                        TurnId = f.String("turnId", "turn_id"),
                        Category = f.Enum<EmotionCategory>("category"),
                        Intensity = f.Float("intensity"),
                        Trust = f.Float("trust"),
                        Affinity = f.Float("affinity"),
                    };
                case "actionCommand":
                case "action_command":
                    return new ActionCommand
                    {
                        TurnId = f.String("turnId", "turn_id"),
                        CommandId = f.String("commandId", "command_id"),
                        Verb = f.String("verb"),
                        TargetId = f.String("targetId", "target_id"),
                        Arguments = f.StringMap("arguments"),
                        PlanId = f.String("planId", "plan_id"),
                        StepIndex = f.UInt("stepIndex", "step_index"),
                        StepCount = f.UInt("stepCount", "step_count"),
                    };
                case "turnEnd":
                case "turn_end":
                    return new TurnEnd
                    {
                        TurnId = f.String("turnId", "turn_id"),
                        Interrupted = f.Bool("interrupted"),
                        Timings = ReadTimings(f.Object("timings")),
                        Text = f.String("text"),
                        HeardText = f.String("heardText", "heard_text"),
                        Reason = f.String("reason"),
                    };
                case "error":
                    return new Error
                    {
                        Code = f.Enum<ErrorCode>("code"),
                        Message = f.String("message"),
                        SessionAlive = f.Bool("sessionAlive", "session_alive"),
                        TurnId = f.String("turnId", "turn_id"),
                    };
                default:
                    return new UnknownServerEvent { Name = name };
            }
        }

        private static NpcAudio ReadAudio(JsonFields f)
        {
            var audio = new NpcAudio
            {
                TurnId = f.String("turnId", "turn_id"),
                Sequence = f.UInt("sequence"),
                Pcm = f.Bytes("pcm"),
                SampleRateHz = f.UInt("sampleRateHz", "sample_rate_hz"),
                OffsetMs = f.UInt("offsetMs", "offset_ms"),
                SentenceIndex = f.UInt("sentenceIndex", "sentence_index"),
            };
            if (audio.Pcm.Length % 2 != 0) throw new FormatException("npcAudio.pcm has an odd byte count");
            foreach (object item in f.Array("visemes"))
            {
                var v = JsonFields.From(item, "viseme");
                audio.Visemes.Add(new Viseme
                {
                    Id = v.Enum<VisemeId>("id"),
                    StartMs = v.UInt("startMs", "start_ms"),
                    DurationMs = v.UInt("durationMs", "duration_ms"),
                    Weight = v.Float("weight"),
                });
            }
            return audio;
        }

        private static TurnTimings ReadTimings(JsonFields t)
        {
            return new TurnTimings
            {
                EndOfSpeechMs = t.Double("endOfSpeechMs", "end_of_speech_ms"),
                AsrMs = t.Double("asrMs", "asr_ms"),
                RecallMs = t.Double("recallMs", "recall_ms"),
                LlmFirstTokenMs = t.Double("llmFirstTokenMs", "llm_first_token_ms"),
                FirstSentenceMs = t.Double("firstSentenceMs", "first_sentence_ms"),
                TtsFirstAudioMs = t.Double("ttsFirstAudioMs", "tts_first_audio_ms"),
                FirstAudioSentAtMs = t.Double("firstAudioSentAtMs", "first_audio_sent_at_ms"),
                FirstTextSentAtMs = t.Double("firstTextSentAtMs", "first_text_sent_at_ms"),
                LlmTotalMs = t.Double("llmTotalMs", "llm_total_ms"),
                TtsTotalMs = t.Double("ttsTotalMs", "tts_total_ms"),
                TotalMs = t.Double("totalMs", "total_ms"),
                AudioMs = t.Double("audioMs", "audio_ms"),
                LlmPromptTokens = t.UInt("llmPromptTokens", "llm_prompt_tokens"),
                LlmCachedTokens = t.UInt("llmCachedTokens", "llm_cached_tokens"),
                LlmCompletionTokens = t.UInt("llmCompletionTokens", "llm_completion_tokens"),
            };
        }

        private static CharacterInfo ReadCharacter(JsonFields c)
        {
            var info = new CharacterInfo
            {
                Id = c.String("id"),
                Name = c.String("name"),
                Description = c.String("description"),
                Language = c.String("language"),
                Greeting = c.String("greeting"),
                Voice = c.String("voice"),
                BaselineEmotion = c.Enum<EmotionCategory>("baselineEmotion", "baseline_emotion"),
            };
            foreach (object verb in c.Array("verbs"))
            {
                var s = verb as string;
                if (s == null) throw new FormatException("character.verbs must hold strings");
                info.Verbs.Add(s);
            }
            return info;
        }

        private static AudioFormat ReadFormat(JsonFields parent, string camel, string snake)
        {
            if (!parent.Has(camel, snake)) return null;
            var f = parent.Object(camel, snake);
            return new AudioFormat
            {
                SampleRateHz = f.UInt("sampleRateHz", "sample_rate_hz"),
                Channels = f.UInt("channels"),
                Encoding = f.Enum<AudioEncoding>("encoding"),
            };
        }

        private static SceneSnapshot ReadSnapshot(JsonFields s)
        {
            var snapshot = new SceneSnapshot { WorldId = s.String("worldId", "world_id") };
            foreach (object item in s.Array("nodes"))
            {
                var n = JsonFields.From(item, "node");
                var node = new SceneNode
                {
                    Id = n.String("id"),
                    Kind = n.Enum<NodeKind>("kind"),
                    Name = n.String("name"),
                    Description = n.String("description"),
                    Type = n.String("type"),
                    State = n.StringMap("state"),
                    Portable = n.Bool("portable"),
                    Container = n.Bool("container"),
                    Hidden = n.Bool("hidden"),
                };
                if (n.Has("position", null))
                {
                    var p = n.Object("position");
                    node.Position = new Vec3(p.Float("x"), p.Float("y"), p.Float("z"));
                }
                snapshot.Nodes.Add(node);
            }
            foreach (object item in s.Array("relations"))
            {
                var r = JsonFields.From(item, "relation");
                snapshot.Relations.Add(new SceneRelation
                {
                    SubjectId = r.String("subjectId", "subject_id"),
                    Kind = r.Enum<RelationKind>("kind"),
                    ObjectId = r.String("objectId", "object_id"),
                    Distance = r.Float("distance"),
                });
            }
            return snapshot;
        }
    }
}
