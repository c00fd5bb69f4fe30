using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using NpcRuntime.Audio;
using NpcRuntime.Protocol;
using NpcRuntime.Scene;
using NpcRuntime.Transport;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>
    /// Against a running server's WebSocket gateway, with the real models: a text turn played
    /// at real-time pace, an audio turn, the game-event messages, action commands and results,
    /// a malformed frame and a refused session.
    /// </summary>
    internal sealed class LiveTests
    {
        private const int TurnTimeoutMs = 120000;
        private static readonly string[] BuiltInVerbs = { "move_to", "pick_up", "put_down", "give", "emote", "look_at", "follow", "open", "close", "use" };

        private readonly string _url;
        private readonly string _speechPath;
        private readonly string _character;
        private readonly List<string> _actionLog = new List<string>();
        private int _actionCommands;

        public LiveTests(string url, string speechPath, string character)
        {
            _url = url;
            _speechPath = speechPath;
            _character = character;
        }

        public void Register(TestRunner t)
        {
            t.Run("live: unknown character is refused with NOT_FOUND", RefusedSession);
            t.Run("live: text turn — text, audio, visemes, emotion, TurnEnd; played at real-time pace", TextTurn);
            if (_speechPath != null) t.Run("live: audio turn — transcript, text, audio, visemes, TurnEnd", AudioTurn);
            t.Run("live: action commands are answered with ActionResults", ActionResults);
        }

        private NpcConversation Open(SessionStart start, int outputRate, out EventRecorder recorder)
        {
            var session = NpcSession.OverWebSocket(_url);
            recorder = new EventRecorder(session);
            var conversation = new NpcConversation(session, outputRate);
            conversation.Actions.ResultReported += (c, r) =>
            {
                lock (_actionLog) _actionLog.Add(c.Verb + "/" + c.CommandId + ":" + r.Status);
            };
            session.ActionCommandReceived += c => Interlocked.Increment(ref _actionCommands);
            var ready = conversation.StartAsync(start).Result;
            Assert.True(!string.IsNullOrEmpty(ready.SessionId), "session id");
            Assert.Equal((uint)outputRate, ready.OutputAudio.SampleRateHz, "output rate honoured");
            // A game registers its verbs; here every verb succeeds at once.
            var verbs = new List<string>(BuiltInVerbs);
            if (ready.Character != null)
            {
                Assert.Equal(_character, ready.Character.Id, "character");
                verbs.AddRange(ready.Character.Verbs);
            }
            foreach (var verb in verbs) conversation.Actions.Register(verb, (c, ctx) => ctx.Succeed("done by the console test"));
            return conversation;
        }

        private SessionStart Start(bool unpaced)
        {
            var start = new SessionStart
            {
                CharacterId = _character,
                PlayerId = "unity-bridge-test-" + Guid.NewGuid().ToString("N").Substring(0, 8),
                InputAudio = AudioFormat.PcmS16le(16000),
                Visemes = true,
                UnpacedAudio = unpaced,
            };
            start.Metadata["client"] = "npc-runtime unity bridge console test";
            start.Metadata["runtime"] = "mono " + Environment.Version;
            return start;
        }

        private void RefusedSession()
        {
            var session = NpcSession.OverWebSocket(_url);
            var e = Assert.Throws<AggregateException>(() => session.StartAsync(new SessionStart { CharacterId = "no-such-npc", PlayerId = "p" }).Wait(30000), "start fails");
            var refused = e.InnerException as NpcSessionException;
            Assert.True(refused != null, "NpcSessionException, got " + e.InnerException);
            Assert.Equal(ErrorCode.NotFound, refused.Code, "code");
            Assert.True(refused.ServerError.Message.Contains(_character), "the message lists known characters: " + refused.ServerError.Message);
            Assert.True(session.Completion.Wait(10000), "the server ends the stream");
            session.Dispose();
        }

        private void TextTurn()
        {
            EventRecorder rec;
            var conversation = Open(Start(unpaced: false), 48000, out rec);
            var session = conversation.Session;
            using (var device = new PlaybackDevice(conversation))
            {
                int mark = rec.Mark();
                session.SendTextAsync("What soup do you have tonight?").Wait();
                var started = rec.Expect<TurnStarted>(mark, TurnTimeoutMs, "turn start");
                Assert.Equal(TurnCause.Text, started.Cause, "cause");
                var end = rec.Expect<TurnEnd>(mark, TurnTimeoutMs, "turn end", e => e.TurnId == started.TurnId);
                Assert.True(!end.Interrupted, "not interrupted: " + end.Reason);
                var audio = CheckTurn(rec, mark, started.TurnId, end, 48000);

                // Real-time playback through the jitter buffer, then the finished report.
                double audioMs = 0;
                foreach (var a in audio) audioMs += a.DurationMs;
                var deadline = DateTime.UtcNow.AddMilliseconds(audioMs + 10000);
                while (conversation.Playback.CurrentTurnId != null && DateTime.UtcNow < deadline) Thread.Sleep(20);
                var position = conversation.Playback.Position;
                Assert.True(position.TurnId == started.TurnId && position.Finished, "the turn played to the end: " + position);
                Assert.Near(audioMs, position.PlayedMs, 5, "played all the audio");
                Assert.True(device.SpeakingFrames > 0 && device.DistinctVisemes >= 3,
                    "the mouth moved with the voice: " + device.SpeakingFrames + " frames, " + device.DistinctVisemes + " visemes");
                Console.WriteLine("      text turn: \"" + end.Text + "\"");
                Console.WriteLine("      " + audio.Count + " chunks, " + audioMs.ToString("0") + " ms of audio, " + conversation.Playback.Underruns + " underruns, " +
                    device.SpeakingFrames + " speaking frames, " + device.DistinctVisemes + " distinct visemes; first audio at " +
                    end.Timings.FirstAudioSentAtMs.ToString("0") + " ms");
            }

            // The game-event messages on the same, still open session.
            int m2 = rec.Mark();
            session.SendTriggerAsync("player_gave_gift").Wait();
            var felt = rec.Expect<Emotion>(m2, 10000, "trigger emotion", e => string.IsNullOrEmpty(e.TurnId));
            Assert.Equal(EmotionCategory.Joy, felt.Category, "a gift brings joy");
            session.SendGameTimeAsync(20.5).Wait();

            var tracker = new SceneTracker();
            ExpectAcceptedOrNotYet(rec, () => session.SendSceneUpdateAsync(tracker.Update(Samples.Scene())).Wait(), "SceneUpdate (replace)");
            ExpectAcceptedOrNotYet(rec, () => session.SendSceneUpdateAsync(tracker.Update(Samples.MovedScene())).Wait(), "SceneUpdate (delta)");
            ExpectAcceptedOrNotYet(rec, () => session.SendActionResultAsync("console-test-unsolicited", ActionStatus.Succeeded, "checking the path").Wait(), "ActionResult");

            // Jin's file answers a wave with gestures: ActionCommands that the action queue
            // runs through the registered handlers and answers with ActionResults.
            ExpectAcceptedOrNotYet(rec, () => session.SendSceneUpdateAsync(tracker.Update(Samples.PlayerAtStall())).Wait(), "SceneUpdate (the player steps up)");
            int wave = rec.Mark();
            session.SendTriggerAsync("player_waved", sourceId: "player").Wait();
            var look = rec.Expect<ActionCommand>(wave, 10000, "look_at command", c => c.Verb == "look_at");
            Assert.Equal("player", look.TargetId, "looks at whoever waved");
            var nod = rec.Expect<ActionCommand>(wave, 10000, "emote command", c => c.Verb == "emote");
            Assert.Equal(look.PlanId, nod.PlanId, "one plan");
            Assert.Equal(1u, nod.StepIndex, "second step");

            // A malformed frame gets an error and the socket stays usable.
            int m3 = rec.Mark();
            var socket = (WebSocketTransport)session.Transport;
            socket.SendRawTextAsync("{\"textInput\": {\"text\": ", CancellationToken.None).Wait();
            var bad = rec.Expect<Error>(m3, 10000, "malformed frame error");
            Assert.Equal(ErrorCode.InvalidArgument, bad.Code, "malformed frame code");
            Assert.True(bad.SessionAlive, "session survives a malformed frame");
            int m4 = rec.Mark();
            session.SendTriggerAsync("player_insulted").Wait();
            rec.Expect<Emotion>(m4, 10000, "still usable after the malformed frame", e => string.IsNullOrEmpty(e.TurnId));
            Assert.True(rec.All<Error>(0, e => !e.SessionAlive).Count == 0, "no fatal errors: " + rec.Describe());
            session.CloseAsync(TimeSpan.FromSeconds(5)).Wait();
            conversation.Dispose();
        }

        private void AudioTurn()
        {
            EventRecorder rec;
            var conversation = Open(Start(unpaced: true), 16000, out rec);
            var session = conversation.Session;
            float[] speech = Pcm.S16leToFloat(File.ReadAllBytes(_speechPath));
            var samples = new float[speech.Length + 16000 * 3 / 2]; // 1.5 s of silence ends the utterance
            Array.Copy(speech, samples, speech.Length);
            int mark = rec.Mark();
            // Stream like a microphone: 20 ms pieces at real-time pace; the framer makes 100 ms chunks.
            const int piece = 320;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0, n = 0; i < samples.Length; i += piece, n++)
            {
                conversation.PushMicrophone(samples, i, Math.Min(piece, samples.Length - i), 16000);
                long wait = (n + 1) * 20 - clock.ElapsedMilliseconds;
                if (wait > 0) Thread.Sleep((int)wait);
            }
            var speechStarted = rec.Expect<SpeechStarted>(mark, 10000, "speech start");
            var transcript = rec.Expect<UserTranscript>(mark, 30000, "transcript", t => t.IsFinal);
            Assert.True(transcript.Text.ToLowerInvariant().Contains("soup"), "transcript: " + transcript.Text);
            Assert.True(transcript.AudioMs > 1000, "utterance duration: " + transcript.AudioMs);
            var started = rec.Expect<TurnStarted>(mark, TurnTimeoutMs, "turn start");
            Assert.Equal(TurnCause.Speech, started.Cause, "cause");
            Assert.Equal(transcript.Text, started.InputText, "the turn answers the transcript");
            Assert.True(rec.IndexOf(speechStarted) < rec.IndexOf(transcript), "SpeechStarted before the transcript");
            var end = rec.Expect<TurnEnd>(mark, TurnTimeoutMs, "turn end", e => e.TurnId == started.TurnId);
            Assert.True(!end.Interrupted, "not interrupted: " + end.Reason);
            var audio = CheckTurn(rec, mark, started.TurnId, end, 16000);
            Assert.True(end.Timings.AsrMs > 0, "ASR timing reported");

            // Unpaced audio is all here: drain it through the jitter buffer at once.
            var block = new float[320];
            float[] scratch = null;
            long played = 0;
            for (int i = 0; i < 100000 && conversation.Playback.CurrentTurnId != null; i++) played += conversation.ReadInterleaved(block, 1, ref scratch);
            double audioMs = 0;
            foreach (var a in audio) audioMs += a.DurationMs;
            Assert.Near(audioMs, Pcm.SamplesToMs(played, 16000), 5, "all the audio came out of the jitter buffer");
            Console.WriteLine("      heard: \"" + transcript.Text + "\" → \"" + end.Text + "\"");
            Console.WriteLine("      " + audio.Count + " chunks, " + audioMs.ToString("0") + " ms of audio; asr " + end.Timings.AsrMs.ToString("0") +
                " ms, first audio at " + end.Timings.FirstAudioSentAtMs.ToString("0") + " ms");
            session.CloseAsync(TimeSpan.FromSeconds(5)).Wait();
            conversation.Dispose();
        }

        private void ActionResults()
        {
            Assert.True(_actionCommands >= 2, "the wave trigger's ActionCommands arrived");
            List<string> log;
            lock (_actionLog) log = new List<string>(_actionLog);
            Console.WriteLine("      " + _actionCommands + " ActionCommand(s): " + string.Join(", ", log.ToArray()));
            int succeeded = 0, started = 0;
            foreach (var entry in log)
            {
                if (entry.EndsWith(":Started")) started++;
                if (entry.EndsWith(":Succeeded") || entry.EndsWith(":Failed") || entry.EndsWith(":Cancelled")) succeeded++;
            }
            Assert.Equal(_actionCommands, succeeded, "every command got a final ActionResult");
            Assert.True(started <= _actionCommands, "at most one Started per command");
        }

        // Checks a finished turn's events; returns its audio chunks.
        private static List<NpcAudio> CheckTurn(EventRecorder rec, int mark, string turnId, TurnEnd end, int rate)
        {
            var texts = rec.All<NpcText>(mark, e => e.TurnId == turnId);
            Assert.True(texts.Count > 0, "NpcText arrived");
            var line = "";
            foreach (var t in texts) line += t.Delta;
            Assert.True(line.Trim().Length > 0, "the NPC said something");
            Assert.Equal(line.Trim(), end.Text.Trim(), "text deltas add up to TurnEnd.text");

            var audio = rec.All<NpcAudio>(mark, e => e.TurnId == turnId);
            Assert.True(audio.Count > 0, "NpcAudio arrived");
            int withVisemes = 0;
            uint expectedOffset = 0;
            for (int i = 0; i < audio.Count; i++)
            {
                var a = audio[i];
                Assert.Equal((uint)i, a.Sequence, "audio sequence");
                Assert.Equal((uint)rate, a.SampleRateHz, "audio rate");
                Assert.True(a.Pcm.Length > 0 && a.Pcm.Length % 2 == 0, "whole samples");
                Assert.True(Math.Abs((double)a.OffsetMs - expectedOffset) <= 2 * audio.Count, "offset " + a.OffsetMs + " follows the audio (" + expectedOffset + ")");
                expectedOffset = a.OffsetMs + (uint)Math.Round(a.DurationMs);
                if (a.Visemes.Count > 0) withVisemes++;
                foreach (var v in a.Visemes) Assert.True(v.StartMs + v.DurationMs <= a.DurationMs + 2, "viseme inside its chunk");
            }
            Assert.True(withVisemes > 0, "visemes arrived");

            var emotion = rec.WaitFor<Emotion>(mark, 0, e => e.TurnId == turnId);
            Assert.True(emotion != null, "the turn's Emotion arrived");
            Assert.True(rec.IndexOf(emotion) < rec.IndexOf(texts[0]) && rec.IndexOf(emotion) < rec.IndexOf(audio[0]), "Emotion before the first text and audio");
            Assert.True(rec.IndexOf(audio[audio.Count - 1]) < rec.IndexOf(end), "TurnEnd follows the last audio");
            var errors = rec.All<Error>(mark, e => e.Code == ErrorCode.InvalidArgument);
            Assert.True(errors.Count == 0, "no message of ours was refused: " + rec.Describe(mark));
            return audio;
        }

        // Sends a message the server may not handle yet: it must answer with no error or an
        // error that is not a parse/protocol failure, and keep the session alive.
        private static void ExpectAcceptedOrNotYet(EventRecorder rec, Action send, string what)
        {
            int mark = rec.Mark();
            send();
            var error = rec.WaitFor<Error>(mark, 3000);
            if (error == null)
            {
                Console.WriteLine("      " + what + ": accepted silently");
                return;
            }
            Assert.True(error.Code != ErrorCode.InvalidArgument && error.Code != ErrorCode.Internal && error.Code != ErrorCode.Unspecified,
                what + " was refused as malformed: " + error.Code + " " + error.Message);
            Assert.True(error.SessionAlive, what + ": the session goes on");
            Console.WriteLine("      " + what + ": " + error.Code + " (" + error.Message + ")");
        }
    }
}
