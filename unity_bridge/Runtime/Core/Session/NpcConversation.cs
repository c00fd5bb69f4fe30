using System;
using System.Threading.Tasks;
using NpcRuntime.Actions;
using NpcRuntime.Audio;
using NpcRuntime.LipSync;
using NpcRuntime.Protocol;

namespace NpcRuntime
{
    /// <summary>
    /// Wires an <see cref="NpcSession"/> to the pieces a game character needs, so an engine
    /// layer only moves samples and weights:
    /// <list type="bullet">
    /// <item>microphone samples → <see cref="AudioFramer"/> → <see cref="AudioChunk"/>s;</item>
    /// <item><see cref="NpcAudio"/> → <see cref="AudioJitterBuffer"/> (read by the audio thread)
    /// and <see cref="VisemeScheduler"/> (read at the played position);</item>
    /// <item><see cref="ActionCommand"/> → <see cref="ActionQueue"/> → <see cref="ActionResult"/>;</item>
    /// <item>barge-in: the player's speech, <see cref="Interrupt"/> or an interrupted
    /// <see cref="TurnEnd"/> stops the voice at once and cancels the turn's actions;</item>
    /// <item><see cref="Tick"/> reports <see cref="PlaybackProgress"/> so the server's history
    /// keeps only what the player heard.</item>
    /// </list>
    /// </summary>
    public sealed class NpcConversation : IDisposable
    {
        private readonly NpcSession _session;
        private readonly object _gate = new object();
        private AudioFramer _framer;
        private double _sinceProgressMs;

        /// <summary>Creates the conversation; subscribe to <see cref="Session"/>'s events as well if you like.</summary>
        /// <param name="session">A session not yet started.</param>
        /// <param name="outputSampleRate">Rate the game plays at (ask the server for it in <see cref="SessionStart.OutputAudio"/>).</param>
        /// <param name="prebufferMs">Jitter buffer prebuffer.</param>
        /// <param name="crossFadeMs">Viseme cross-fade.</param>
        public NpcConversation(NpcSession session, int outputSampleRate, int prebufferMs = 120, float crossFadeMs = 60f)
        {
            if (session == null) throw new ArgumentNullException("session");
            _session = session;
            Playback = new AudioJitterBuffer(outputSampleRate, prebufferMs);
            Visemes = new VisemeScheduler(crossFadeMs);
            Actions = new ActionQueue(result => _session.Post(result));
            ProgressIntervalMs = 250;
            _session.AudioReceived += OnAudio;
            _session.TurnEndReceived += OnTurnEnd;
            _session.SpeechStartedReceived += OnSpeechStarted;
            _session.ActionCommandReceived += Actions.Enqueue;
        }

        /// <summary>The session.</summary>
        public NpcSession Session
        {
            get { return _session; }
        }

        /// <summary>The NPC's voice, ready for the audio thread.</summary>
        public AudioJitterBuffer Playback { get; private set; }

        /// <summary>Lip-sync timing.</summary>
        public VisemeScheduler Visemes { get; private set; }

        /// <summary>The NPC's actions; register verb handlers here.</summary>
        public ActionQueue Actions { get; private set; }

        /// <summary>How often <see cref="Tick"/> reports the position of the turn playing, in ms.</summary>
        public double ProgressIntervalMs { get; set; }

        /// <summary>Starts the session, with <see cref="SessionStart.OutputAudio"/> set to the playback rate when unset.</summary>
        public Task<SessionReady> StartAsync(SessionStart start)
        {
            if (start.OutputAudio == null) start.OutputAudio = AudioFormat.PcmS16le((uint)Playback.SampleRate);
            return _session.StartAsync(start);
        }

        /// <summary>
        /// Adds microphone samples (mono, -1..1) at <paramref name="sampleRate"/>; full ~100 ms
        /// chunks are sent at once.
        /// </summary>
        public void PushMicrophone(float[] samples, int offset, int count, int sampleRate)
        {
            lock (_gate)
            {
                if (_framer == null || _framer.SampleRate != sampleRate)
                {
                    FlushMicrophone();
                    _framer = new AudioFramer(sampleRate);
                }
                foreach (var chunk in _framer.Push(samples, offset, count)) _session.Post(new AudioChunk { Pcm = chunk });
            }
        }

        /// <summary>Push-to-talk released: sends what is pending and ends the utterance now.</summary>
        public void EndUtterance()
        {
            lock (_gate) FlushMicrophone();
            _session.Post(new AudioEnd());
        }

        /// <summary>Player-initiated barge-in (a click, a key): silence the NPC and stop its turn.</summary>
        public void Interrupt()
        {
            string turn = Playback.CurrentTurnId;
            StopTurn(turn, "interrupted by the player");
            _session.Post(new Protocol.Interrupt { TurnId = turn });
        }

        /// <summary>
        /// Fills an interleaved engine buffer (e.g. Unity's OnAudioFilterRead) with the NPC's
        /// voice; <paramref name="mono"/> is scratch space, grown as needed. Returns the number
        /// of frames that carried voice (the rest is silence).
        /// </summary>
        public int ReadInterleaved(float[] data, int channels, ref float[] mono)
        {
            int frames = data.Length / channels;
            if (mono == null || mono.Length < frames) mono = new float[frames];
            int voiced = Playback.Read(mono, 0, frames);
            for (int f = 0, i = 0; f < frames; f++)
            {
                float s = mono[f];
                for (int c = 0; c < channels; c++) data[i++] = s;
            }
            return voiced;
        }

        /// <summary>The mouth now: the viseme at the played position of the current turn.</summary>
        public VisemeFrame CurrentViseme()
        {
            var position = Playback.Position;
            return Visemes.Evaluate(position.TurnId, position.PlayedMs);
        }

        /// <summary>
        /// Call regularly (every frame): reports finished turns and, every
        /// <see cref="ProgressIntervalMs"/>, the played position of the current turn.
        /// </summary>
        public void Tick(double elapsedMs)
        {
            PlaybackPosition done;
            while (Playback.TryTakeFinished(out done))
            {
                Visemes.DropTurn(done.TurnId);
                // A dropped turn is not "finished": the server keeps only what was played.
                _session.Post(new PlaybackProgress { TurnId = done.TurnId, PlayedMs = (uint)done.PlayedMs, Finished = done.Finished });
            }
            _sinceProgressMs += elapsedMs;
            if (_sinceProgressMs < ProgressIntervalMs) return;
            _sinceProgressMs = 0;
            var position = Playback.Position;
            if (position.TurnId != null && Playback.IsPlaying) _session.Post(position.ToMessage());
        }

        /// <summary>Unsubscribes from the session and cancels pending actions.</summary>
        public void Dispose()
        {
            _session.AudioReceived -= OnAudio;
            _session.TurnEndReceived -= OnTurnEnd;
            _session.SpeechStartedReceived -= OnSpeechStarted;
            _session.ActionCommandReceived -= Actions.Enqueue;
            Actions.CancelAll("the conversation ended");
            Playback.Clear();
        }

        private void FlushMicrophone()
        {
            if (_framer == null) return;
            byte[] rest = _framer.Flush();
            if (rest != null) _session.Post(new AudioChunk { Pcm = rest });
        }

        private void OnAudio(NpcAudio audio)
        {
            if (Playback.Push(audio)) Visemes.Add(audio);
        }

        private void OnTurnEnd(TurnEnd end)
        {
            if (end.Interrupted) StopTurn(end.TurnId, "the turn was interrupted" + (string.IsNullOrEmpty(end.Reason) ? "" : ": " + end.Reason));
            else Playback.EndTurn(end.TurnId);
        }

        private void OnSpeechStarted(SpeechStarted speech)
        {
            // The player talks over the NPC: the server stops the turn; stop the voice now.
            string turn = Playback.CurrentTurnId;
            if (turn != null) StopTurn(turn, "the player started speaking");
        }

        private void StopTurn(string turnId, string reason)
        {
            if (turnId == null) return;
            Playback.DropTurn(turnId);
            Visemes.DropTurn(turnId);
            Actions.CancelTurn(turnId, reason);
        }
    }
}
