using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NpcRuntime.Audio;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>NpcSession and NpcConversation against an in-memory server.</summary>
    internal static class SessionTests
    {
        private const string Ready = "{\"sessionReady\": {\"sessionId\": \"s1\", \"character\": {\"id\": \"jin\", \"verbs\": [\"emote\"]}, \"outputAudio\": {\"sampleRateHz\": 16000, \"channels\": 1}}}";

        public static void Register(TestRunner t)
        {
            t.Run("session: SessionStart goes first; StartAsync returns SessionReady", StartsFirst);
            t.Run("session: a refused start throws with the server's code", RefusedStart);
            t.Run("session: sends leave in call order; events are typed", OrderAndTypes);
            t.Run("session: queued dispatch waits for DispatchPending", QueuedDispatch);
            t.Run("session: an unreadable server frame is reported and the session goes on", UnreadableFrame);
            t.Run("conversation: audio, visemes, actions and playback reports", ConversationTurn);
            t.Run("conversation: barge-in silences the voice and cancels the turn's actions", ConversationBargeIn);
        }

        private static void StartsFirst()
        {
            var fake = new FakeTransport();
            var session = new NpcSession(fake);
            var start = session.StartAsync(new SessionStart { CharacterId = "jin", PlayerId = "p" });
            var sent = fake.WaitForSent(1);
            Assert.True(sent[0].StartsWith("{\"sessionStart\":{\"characterId\":\"jin\""), "first frame: " + sent[0]);
            Assert.True(!start.IsCompleted, "waits for SessionReady");
            fake.ServerSends(Ready);
            Assert.True(start.Wait(5000), "ready arrives");
            Assert.Equal("s1", start.Result.SessionId, "session id");
            Assert.True(session.IsOpen, "open");
            session.CloseAsync(TimeSpan.FromSeconds(2)).Wait();
            Assert.True(fake.ClosedByClient, "closed");
            Assert.True(session.Completion.Result.ByClient, "closed by the client");
        }

        private static void RefusedStart()
        {
            var fake = new FakeTransport();
            var session = new NpcSession(fake);
            var start = session.StartAsync(new SessionStart { CharacterId = "nobody" });
            fake.ServerSends("{\"error\": {\"code\": \"ERROR_CODE_NOT_FOUND\", \"message\": \"unknown character 'nobody'; known: jin, nova\"}}");
            fake.ServerSends(null);
            var e = Assert.Throws<AggregateException>(() => start.Wait(5000), "start fails");
            var refused = e.InnerException as NpcSessionException;
            Assert.True(refused != null, "NpcSessionException, got " + e.InnerException);
            Assert.Equal(ErrorCode.NotFound, refused.Code, "code");
            Assert.True(!session.Completion.Result.Clean, "closed with the server's error");
        }

        private static void OrderAndTypes()
        {
            var fake = new FakeTransport();
            var session = new NpcSession(fake);
            var texts = new List<string>();
            var kinds = new List<string>();
            session.TextReceived += t => texts.Add(t.Delta);
            session.EventReceived += e => kinds.Add(e.GetType().Name);
            var start = session.StartAsync(new SessionStart { CharacterId = "jin" });
            fake.ServerSends(Ready);
            start.Wait(5000);
            var tasks = new List<Task>();
            for (int i = 0; i < 100; i++) tasks.Add(session.SendTextAsync("line " + i));
            Task.WaitAll(tasks.ToArray(), 5000);
            var sent = fake.WaitForSent(101);
            for (int i = 0; i < 100; i++) Assert.Equal("{\"textInput\":{\"text\":\"line " + i + "\"}}", sent[i + 1], "order " + i);
            fake.ServerSends("{\"turnStarted\": {\"turnId\": \"t\", \"cause\": \"TURN_CAUSE_TEXT\"}}");
            fake.ServerSends("{\"npcText\": {\"turnId\": \"t\", \"delta\": \"Hello\"}}");
            fake.ServerSends("{\"npcText\": {\"turnId\": \"t\", \"delta\": \" there.\"}}");
            fake.ServerSends("{\"turnEnd\": {\"turnId\": \"t\", \"text\": \"Hello there.\"}}");
            fake.ServerSends(null);
            Assert.True(session.Completion.Wait(5000), "stream ends");
            Assert.Equal("Hello there.", string.Join("", texts.ToArray()), "text deltas");
            Assert.Equal("SessionReady TurnStarted NpcText NpcText TurnEnd", string.Join(" ", kinds.ToArray()), "event order");
            Assert.True(session.SendTextAsync("late").IsFaulted, "no sends after close");
        }

        private static void QueuedDispatch()
        {
            var fake = new FakeTransport();
            var session = new NpcSession(fake, DispatchMode.Queued);
            int texts = 0;
            int closed = 0;
            session.TextReceived += t => texts++;
            session.Closed += c => closed++;
            var start = session.StartAsync(new SessionStart { CharacterId = "jin" });
            fake.ServerSends(Ready);
            start.Wait(5000);
            fake.ServerSends("{\"npcText\": {\"turnId\": \"t\", \"delta\": \"a\"}}");
            fake.ServerSends(null);
            session.Completion.Wait(5000);
            Assert.Equal(0, texts, "nothing raised before DispatchPending");
            Assert.Equal(2, session.DispatchPending(), "ready and text dispatched");
            Assert.Equal(1, texts, "text raised");
            Assert.Equal(1, closed, "closed raised after the last event");
        }

        private static void UnreadableFrame()
        {
            var fake = new FakeTransport();
            var session = new NpcSession(fake);
            var unknown = new List<string>();
            session.EventReceived += e =>
            {
                var u = e as UnknownServerEvent;
                if (u != null) unknown.Add(u.Name);
            };
            var start = session.StartAsync(new SessionStart { CharacterId = "jin" });
            fake.ServerSends("{not json");
            fake.ServerSends(Ready);
            Assert.True(start.Wait(5000), "ready after a bad frame");
            Assert.True(unknown.Count == 1 && unknown[0].StartsWith("unreadable"), "reported: " + string.Join(",", unknown.ToArray()));
        }

        private static NpcConversation StartConversation(FakeTransport fake)
        {
            var session = new NpcSession(fake);
            var conversation = new NpcConversation(session, 16000, prebufferMs: 0, crossFadeMs: 0);
            var start = conversation.StartAsync(new SessionStart { CharacterId = "jin", Visemes = true });
            fake.ServerSends(Ready);
            start.Wait(5000);
            return conversation;
        }

        private static string AudioJson(string turn, uint seq, uint offsetMs, string viseme)
        {
            var chunk = AudioTests.Chunk(turn, seq, 1600, 0.5f); // 100 ms
            return "{\"npcAudio\": {\"turnId\": \"" + turn + "\", \"sequence\": " + seq + ", \"pcm\": \"" + Convert.ToBase64String(chunk.Pcm) +
                "\", \"sampleRateHz\": 16000, \"offsetMs\": " + offsetMs + ", \"visemes\": [{\"id\": \"" + viseme + "\", \"durationMs\": 100, \"weight\": 1.0}]}}";
        }

        private static int PcmBytes(string audioChunkJson)
        {
            var root = (Dictionary<string, object>)Json.JsonReader.Parse(audioChunkJson);
            var chunk = (Dictionary<string, object>)root["audioChunk"];
            return Convert.FromBase64String((string)chunk["pcm"]).Length;
        }

        private static void ConversationTurn()
        {
            var fake = new FakeTransport();
            var conversation = StartConversation(fake);
            var emoted = new List<string>();
            conversation.Actions.Register("emote", (c, ctx) =>
            {
                emoted.Add(c.Arguments["emotion"]);
                ctx.Succeed();
            });

            conversation.PushMicrophone(new float[2500], 0, 2500, 16000);
            conversation.EndUtterance();
            var sent = fake.WaitForSent(4);
            Assert.Equal(3200, PcmBytes(sent[1]), "a 100 ms chunk");
            Assert.Equal(1800, PcmBytes(sent[2]), "the rest on release");
            Assert.Equal("{\"audioEnd\":{}}", sent[3], "then AudioEnd");

            fake.ServerSends(AudioJson("t1", 0, 0, "VISEME_AA"));
            fake.ServerSends(AudioJson("t1", 1, 100, "VISEME_OU"));
            fake.ServerSends("{\"actionCommand\": {\"turnId\": \"t1\", \"commandId\": \"c1\", \"verb\": \"emote\", \"arguments\": {\"emotion\": \"joy\"}}}");
            var ended = new ManualResetEventSlim();
            conversation.Session.TurnEndReceived += e => ended.Set();
            fake.ServerSends("{\"turnEnd\": {\"turnId\": \"t1\"}}");
            Assert.True(ended.Wait(5000), "turn end received");
            sent = fake.WaitForSent(6);
            Assert.Equal("{\"actionResult\":{\"commandId\":\"c1\",\"status\":\"ACTION_STATUS_STARTED\"}}", sent[4], "started");
            Assert.Equal("{\"actionResult\":{\"commandId\":\"c1\",\"status\":\"ACTION_STATUS_SUCCEEDED\"}}", sent[5], "succeeded");
            Assert.Equal("joy", emoted[0], "handler got the arguments");

            var device = new float[160 * 2];
            float[] scratch = null;
            conversation.ReadInterleaved(device, 2, ref scratch); // 10 ms, stereo
            Assert.Near(0.5, device[1], 1e-3, "voice in both channels");
            Assert.Equal(VisemeId.AA, conversation.CurrentViseme().Dominant, "AA while the first chunk plays");
            for (int i = 0; i < 10; i++) conversation.ReadInterleaved(device, 2, ref scratch);
            Assert.Equal(VisemeId.OU, conversation.CurrentViseme().Dominant, "OU in the second chunk");
            for (int i = 0; i < 20; i++) conversation.ReadInterleaved(device, 2, ref scratch);
            conversation.Tick(16);
            sent = fake.WaitForSent(7);
            Assert.Equal("{\"playbackProgress\":{\"turnId\":\"t1\",\"playedMs\":200,\"finished\":true}}", sent[6], "finished report");
        }

        private static void ConversationBargeIn()
        {
            var fake = new FakeTransport();
            var conversation = StartConversation(fake);
            conversation.Actions.Register("move_to", (c, ctx) => { });
            for (uint i = 0; i < 5; i++) fake.ServerSends(AudioJson("t1", i, i * 100, "VISEME_AA"));
            fake.ServerSends("{\"actionCommand\": {\"turnId\": \"t1\", \"commandId\": \"m1\", \"verb\": \"move_to\", \"targetId\": \"stove\"}}");
            fake.WaitForSent(2); // SessionStart, Started
            var device = new float[1600];
            float[] scratch = null;
            conversation.ReadInterleaved(device, 1, ref scratch); // 100 ms heard
            fake.ServerSends("{\"speechStarted\": {\"utteranceId\": \"u2\"}}");
            var sent = fake.WaitForSent(3);
            Assert.Equal("{\"actionResult\":{\"commandId\":\"m1\",\"status\":\"ACTION_STATUS_CANCELLED\",\"detail\":\"the player started speaking\"}}", sent[2], "cancelled");
            conversation.ReadInterleaved(device, 1, ref scratch);
            Assert.Near(0, device[0], 1e-6, "silent at once");
            fake.ServerSends(AudioJson("t1", 5, 500, "VISEME_AA")); // still in flight: ignored
            var ended = new ManualResetEventSlim();
            conversation.Session.TurnEndReceived += e => ended.Set();
            fake.ServerSends("{\"turnEnd\": {\"turnId\": \"t1\", \"interrupted\": true}}");
            Assert.True(ended.Wait(5000), "turn end received");
            conversation.ReadInterleaved(device, 1, ref scratch);
            Assert.Near(0, device[0], 1e-6, "stale audio not played");
            conversation.Tick(16);
            sent = fake.WaitForSent(4);
            Assert.Equal("{\"playbackProgress\":{\"turnId\":\"t1\",\"playedMs\":100}}", sent[3], "reports what was heard, not finished");
        }
    }
}
