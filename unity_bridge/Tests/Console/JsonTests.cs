using System;
using System.Collections.Generic;
using System.IO;
using NpcRuntime.Json;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>The JSON reader/writer and the proto3 JSON mapping of the protocol messages.</summary>
    internal static class JsonTests
    {
        public static void Register(TestRunner t)
        {
            t.Run("json: parses objects, arrays, escapes and numbers", ParsesValues);
            t.Run("json: rejects malformed text", RejectsMalformed);
            t.Run("json: writer output parses back to the same value", WriterRoundTrip);
            t.Run("proto json: client events use canonical names, enums and base64", SerializesClientEvents);
            t.Run("proto json: default values are omitted", OmitsDefaults);
            t.Run("proto json: scene snapshot round trip", SceneRoundTrip);
            t.Run("proto json: server events as json_format writes them", ParsesServerEvents);
            t.Run("proto json: lenient reading (snake_case, enum numbers, unknown fields)", ReadsLeniently);
            t.Run("proto json: invalid server events are refused", RefusesInvalidServerEvents);
        }

        private static void ParsesValues()
        {
            var v = (Dictionary<string, object>)JsonReader.Parse(
                " {\"a\": [1, -2.5, 3e2, true, false, null], \"s\": \"q\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\", \"o\": {}} ");
            var a = (List<object>)v["a"];
            Assert.Equal(6, a.Count, "array length");
            Assert.Equal(1.0, (double)a[0], "int");
            Assert.Equal(-2.5, (double)a[1], "negative fraction");
            Assert.Equal(300.0, (double)a[2], "exponent");
            Assert.Equal(true, (bool)a[3], "true");
            Assert.Equal(false, (bool)a[4], "false");
            Assert.True(a[5] == null, "null");
            Assert.Equal("q\"\\/\n\u00e9\ud83d\ude00", (string)v["s"], "escapes");
            Assert.Equal(0, ((Dictionary<string, object>)v["o"]).Count, "empty object");
        }

        private static void RejectsMalformed()
        {
            foreach (var bad in new[] { "", "{", "{\"a\":1,}", "[1 2]", "01", "\"abc", "{\"a\" 1}", "tru", "[1]x", "\"\\x\"", "\"a\u0001\"", "-", "1." })
            {
                Assert.Throws<FormatException>(() => JsonReader.Parse(bad), "parse of " + bad);
            }
            string deep = new string('[', 100) + new string(']', 100);
            Assert.Throws<FormatException>(() => JsonReader.Parse(deep), "nesting limit");
        }

        private static void WriterRoundTrip()
        {
            var value = new Dictionary<string, object>
            {
                { "text", "line\none \"quoted\" \\ tab\t \u2028 é 😀" },
                { "n", 0.1 },
                { "big", 123456789.0 },
                { "list", new List<object> { 1.0, "x", null, true, new Dictionary<string, object>() } },
            };
            string json = new JsonWriter().Any(value).ToString();
            var back = (Dictionary<string, object>)JsonReader.Parse(json);
            Assert.Equal((string)value["text"], (string)back["text"], "string with escapes");
            Assert.Equal(0.1, (double)back["n"], "fraction");
            Assert.Equal(123456789.0, (double)back["big"], "large number");
            Assert.Equal(5, ((List<object>)back["list"]).Count, "list");
            Assert.Equal(json, new JsonWriter().Any(back).ToString(), "second write is identical");
        }

        private static void SerializesClientEvents()
        {
            Assert.Equal("{\"textInput\":{\"text\":\"What soup do you have tonight?\"}}",
                ProtoJson.Serialize(new TextInput { Text = "What soup do you have tonight?" }), "text input");
            Assert.Equal("{\"audioEnd\":{}}", ProtoJson.Serialize(new AudioEnd()), "audio end");
            Assert.Equal("{\"audioChunk\":{\"pcm\":\"AAH/fw==\"}}",
                ProtoJson.Serialize(new AudioChunk { Pcm = new byte[] { 0, 1, 255, 127 } }), "audio chunk base64");
            Assert.Equal("{\"actionResult\":{\"commandId\":\"c1\",\"status\":\"ACTION_STATUS_SUCCEEDED\",\"detail\":\"done\"}}",
                ProtoJson.Serialize(new ActionResult { CommandId = "c1", Status = ActionStatus.Succeeded, Detail = "done" }), "action result");
            Assert.Equal("{\"playbackProgress\":{\"turnId\":\"t\",\"playedMs\":1500,\"finished\":true}}",
                ProtoJson.Serialize(new PlaybackProgress { TurnId = "t", PlayedMs = 1500, Finished = true }), "playback progress");
            Assert.Equal("{\"interrupt\":{}}", ProtoJson.Serialize(new Interrupt()), "interrupt with no turn");
            Assert.Equal("{\"gameTime\":{\"hours\":20.5}}", ProtoJson.Serialize(new GameTime { Hours = 20.5 }), "game time");

            var start = new SessionStart
            {
                CharacterId = "jin",
                PlayerId = "p-1",
                InputAudio = AudioFormat.PcmS16le(16000),
                OutputAudio = AudioFormat.PcmS16le(48000),
                Visemes = true,
                Endpointing = new EndpointingOptions { PushToTalkOnly = true },
            };
            start.Metadata["engine"] = "unity 2021.3";
            Assert.Equal(
                "{\"sessionStart\":{\"characterId\":\"jin\",\"playerId\":\"p-1\"," +
                "\"inputAudio\":{\"sampleRateHz\":16000,\"channels\":1,\"encoding\":\"AUDIO_ENCODING_PCM_S16LE\"}," +
                "\"outputAudio\":{\"sampleRateHz\":48000,\"channels\":1,\"encoding\":\"AUDIO_ENCODING_PCM_S16LE\"}," +
                "\"visemes\":true,\"endpointing\":{\"pushToTalkOnly\":true},\"metadata\":{\"engine\":\"unity 2021.3\"}}}",
                ProtoJson.Serialize(start), "session start");

            var trigger = new Trigger { Name = "player_gave_gift", React = true };
            trigger.Parameters["intensity"] = "0.5";
            Assert.Equal("{\"trigger\":{\"name\":\"player_gave_gift\",\"parameters\":{\"intensity\":\"0.5\"},\"react\":true}}",
                ProtoJson.Serialize(trigger), "trigger");
        }

        private static void OmitsDefaults()
        {
            Assert.Equal("{\"sessionStart\":{}}", ProtoJson.Serialize(new SessionStart()), "empty session start");
            Assert.Equal("{\"textInput\":{}}", ProtoJson.Serialize(new TextInput { Text = "" }), "empty text");
            Assert.Equal("{\"actionResult\":{\"commandId\":\"c\"}}",
                ProtoJson.Serialize(new ActionResult { CommandId = "c", Status = ActionStatus.Unspecified }), "unspecified enum");
            Assert.Equal("{\"sceneUpdate\":{\"worldId\":\"w\"}}", ProtoJson.Serialize(new SceneUpdate { WorldId = "w" }), "empty update");
        }

        private static void SceneRoundTrip()
        {
            var snapshot = Samples.Scene();
            string json = ProtoJson.Serialize(snapshot);
            var back = ProtoJson.ParseSceneSnapshot(json);
            Assert.Equal(snapshot.WorldId, back.WorldId, "world id");
            Assert.Equal(snapshot.Nodes.Count, back.Nodes.Count, "nodes");
            for (int i = 0; i < snapshot.Nodes.Count; i++)
            {
                Assert.True(Scene.SceneDelta.SameNode(snapshot.Nodes[i], back.Nodes[i], 1e-6f), "node " + snapshot.Nodes[i].Id + " survives the round trip");
            }
            Assert.Equal(snapshot.Relations.Count, back.Relations.Count, "relations");
            for (int i = 0; i < snapshot.Relations.Count; i++)
            {
                Assert.Equal(snapshot.Relations[i].Key, back.Relations[i].Key, "relation " + i);
                Assert.Equal(snapshot.Relations[i].Distance, back.Relations[i].Distance, "relation distance " + i);
            }
            Assert.Equal(json, ProtoJson.Serialize(back), "second serialization is identical");
            Assert.True(json.Contains("\"kind\":\"NODE_KIND_PLACE\"") && json.Contains("\"kind\":\"RELATION_KIND_CONNECTED\""), "enum names: " + json);
        }

        private static void ParsesServerEvents()
        {
            // As google.protobuf.json_format.MessageToJson writes them (defaults omitted).
            var ready = (SessionReady)ProtoJson.ParseServerEvent(
                "{\"sessionReady\": {\"sessionId\": \"s1\", \"character\": {\"id\": \"jin\", \"name\": \"Jin\", \"verbs\": [\"emote\", \"serve\"], \"baselineEmotion\": \"EMOTION_CATEGORY_JOY\"}," +
                " \"inputAudio\": {\"sampleRateHz\": 16000, \"channels\": 1, \"encoding\": \"AUDIO_ENCODING_PCM_S16LE\"}, \"outputAudio\": {\"sampleRateHz\": 48000, \"channels\": 1}, \"endOfSpeechSilenceMs\": 300}}");
            Assert.Equal("s1", ready.SessionId, "session id");
            Assert.Equal("Jin", ready.Character.Name, "character name");
            Assert.Equal(2, ready.Character.Verbs.Count, "verbs");
            Assert.Equal(EmotionCategory.Joy, ready.Character.BaselineEmotion, "baseline emotion");
            Assert.Equal(48000u, ready.OutputAudio.SampleRateHz, "output rate");
            Assert.Equal(300u, ready.EndOfSpeechSilenceMs, "silence");

            var audio = (NpcAudio)ProtoJson.ParseServerEvent(
                "{\"npcAudio\": {\"turnId\": \"t1\", \"sequence\": 3, \"pcm\": \"AAH/fw==\", \"sampleRateHz\": 22050, \"offsetMs\": 600, \"sentenceIndex\": 1," +
                " \"visemes\": [{\"durationMs\": 40, \"weight\": 1.0}, {\"id\": \"VISEME_AA\", \"startMs\": 40, \"durationMs\": 90, \"weight\": 0.8}]}}");
            Assert.Equal("t1", audio.TurnId, "turn id");
            Assert.Equal(3u, audio.Sequence, "sequence");
            Assert.Equal(4, audio.Pcm.Length, "pcm bytes");
            Assert.Equal((byte)255, audio.Pcm[2], "pcm content");
            Assert.Equal(600u, audio.OffsetMs, "offset");
            Assert.Equal(VisemeId.Sil, audio.Visemes[0].Id, "omitted viseme id is SIL");
            Assert.Equal(VisemeId.AA, audio.Visemes[1].Id, "viseme id");
            Assert.Equal(0.8f, audio.Visemes[1].Weight, "viseme weight");

            var end = (TurnEnd)ProtoJson.ParseServerEvent(
                "{\"turnEnd\": {\"turnId\": \"t1\", \"interrupted\": true, \"timings\": {\"asrMs\": 150.5, \"llmPromptTokens\": 512, \"totalMs\": 1800.0, \"speculative\": true}, \"text\": \"Hi.\", \"heardText\": \"Hi\"}}");
            Assert.True(end.Interrupted, "interrupted");
            Assert.Equal(150.5, end.Timings.AsrMs, "asr ms");
            Assert.Equal(512u, end.Timings.LlmPromptTokens, "prompt tokens");
            Assert.Equal("Hi", end.HeardText, "heard text");

            var error = (Error)ProtoJson.ParseServerEvent("{\"error\": {\"code\": \"ERROR_CODE_UNIMPLEMENTED\", \"message\": \"later\", \"sessionAlive\": true}}");
            Assert.Equal(ErrorCode.Unimplemented, error.Code, "error code");
            Assert.True(error.SessionAlive, "session alive");

            var command = (ActionCommand)ProtoJson.ParseServerEvent(
                "{\"actionCommand\": {\"turnId\": \"t1\", \"commandId\": \"c9\", \"verb\": \"move_to\", \"targetId\": \"stove\", \"arguments\": {\"speed\": \"walk\"}, \"planId\": \"p\", \"stepIndex\": 1, \"stepCount\": 2}}");
            Assert.Equal("move_to", command.Verb, "verb");
            Assert.Equal("walk", command.Arguments["speed"], "argument");
            Assert.Equal(1u, command.StepIndex, "step");

            var emotion = (Emotion)ProtoJson.ParseServerEvent("{\"emotion\": {\"category\": \"EMOTION_CATEGORY_ANGER\", \"intensity\": 0.7, \"trust\": -0.25}}");
            Assert.Equal(EmotionCategory.Anger, emotion.Category, "category");
            Assert.Equal("", emotion.TurnId, "trigger emotion has no turn");
            Assert.Equal(-0.25f, emotion.Trust, "trust");

            var started = (TurnStarted)ProtoJson.ParseServerEvent("{\"turnStarted\": {\"turnId\": \"t2\", \"cause\": \"TURN_CAUSE_SPEECH\", \"inputText\": \"soup?\"}}");
            Assert.Equal(TurnCause.Speech, started.Cause, "cause");

            var transcript = (UserTranscript)ProtoJson.ParseServerEvent("{\"userTranscript\": {\"text\": \"What soup?\", \"isFinal\": true, \"audioMs\": 2100}}");
            Assert.True(transcript.IsFinal, "final transcript");
            Assert.Equal(2100u, transcript.AudioMs, "audio ms");
        }

        private static void ReadsLeniently()
        {
            var text = (NpcText)ProtoJson.ParseServerEvent("{\"npc_text\": {\"turn_id\": \"t\", \"delta\": \"Hi\", \"futureField\": {\"x\": 1}}}");
            Assert.Equal("t", text.TurnId, "snake_case names");
            var error = (Error)ProtoJson.ParseServerEvent("{\"error\": {\"code\": 5, \"sessionAlive\": false}}");
            Assert.Equal(ErrorCode.NotFound, error.Code, "enum as number");
            var unknownCode = (Error)ProtoJson.ParseServerEvent("{\"error\": {\"code\": \"ERROR_CODE_FROM_THE_FUTURE\"}}");
            Assert.Equal(ErrorCode.Unspecified, unknownCode.Code, "unknown enum name");
            var audio = (NpcAudio)ProtoJson.ParseServerEvent("{\"npcAudio\": {\"turnId\": \"t\", \"sequence\": \"7\", \"pcm\": \"AAH_fw\"}}");
            Assert.Equal(7u, audio.Sequence, "number as string");
            Assert.Equal(4, audio.Pcm.Length, "URL-safe base64 without padding");
            var unknown = ProtoJson.ParseServerEvent("{\"somethingNew\": {}}") as UnknownServerEvent;
            Assert.True(unknown != null && unknown.Name == "somethingNew", "unknown event is tolerated");
        }

        private static void RefusesInvalidServerEvents()
        {
            Assert.Throws<FormatException>(() => ProtoJson.ParseServerEvent("[]"), "array");
            Assert.Throws<FormatException>(() => ProtoJson.ParseServerEvent("{}"), "no event");
            Assert.Throws<FormatException>(() => ProtoJson.ParseServerEvent("{\"npcText\": {}, \"error\": {}}"), "two events");
            Assert.Throws<FormatException>(() => ProtoJson.ParseServerEvent("{\"npcText\": {\"delta\": 5}}"), "wrong type");
            Assert.Throws<FormatException>(() => ProtoJson.ParseServerEvent("{\"npcAudio\": {\"pcm\": \"AAEC\"}}"), "odd PCM");
            Assert.Throws<FormatException>(() => ProtoJson.ParseServerEvent("{\"npcAudio\": {\"sequence\": -1}}"), "negative uint");
        }

        /// <summary>Writes one JSON ClientEvent per line, for a cross-check by Python's json_format.</summary>
        public static void DumpClientEvents(string path)
        {
            var start = new SessionStart
            {
                CharacterId = "jin",
                PlayerId = "p",
                InputAudio = AudioFormat.PcmS16le(16000),
                Visemes = true,
                Scene = Samples.Scene(),
                Endpointing = new EndpointingOptions { EndOfSpeechSilenceMs = 400 },
                GameTimeHours = 20.25,
                UnpacedAudio = true,
            };
            start.Metadata["engine"] = "mono";
            var update = Scene.SceneDelta.Between(Samples.Scene(), Samples.MovedScene());
            var trigger = new Trigger { Name = "player_gave_gift", React = true, SourceId = "player" };
            trigger.Parameters["emotion"] = "joy";
            var events = new ClientEvent[]
            {
                start,
                new AudioChunk { Pcm = new byte[] { 1, 2, 3, 4 } },
                new AudioEnd(),
                new TextInput { Text = "Tabs\tquotes\" and é 😀" },
                trigger,
                update,
                new SceneUpdate { WorldId = "w", Replace = Samples.Scene() },
                new ActionResult { CommandId = "c1", Status = ActionStatus.Started },
                new PlaybackProgress { TurnId = "t", PlayedMs = 1234, Finished = true },
                new Interrupt { TurnId = "t" },
                new GameTime { Hours = 1e-3 },
            };
            using (var w = new StreamWriter(path))
            {
                foreach (var e in events) w.WriteLine(ProtoJson.Serialize(e));
            }
        }
    }
}
