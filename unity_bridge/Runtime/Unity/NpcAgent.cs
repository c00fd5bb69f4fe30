using System;
using NpcRuntime.Protocol;
using UnityEngine;
using UnityEngine.Events;

namespace NpcRuntime.Unity
{
    /// <summary>How the player's microphone reaches the NPC.</summary>
    public enum MicrophoneMode
    {
        /// <summary>No microphone; text and triggers only.</summary>
        Off,
        /// <summary>Audio is sent while <see cref="NpcAgent.BeginTalking"/> holds; release ends the utterance.</summary>
        PushToTalk,
        /// <summary>Always listening; the server's voice detection finds the utterances.</summary>
        OpenMic,
    }

    /// <summary>How the NPC's voice reaches the AudioSource.</summary>
    public enum PlaybackPath
    {
        /// <summary>Written in OnAudioFilterRead: lowest latency, tightest lip sync.</summary>
        FilterRead,
        /// <summary>A streaming AudioClip: behaves like any clip (spatializer plugins, mixers).</summary>
        StreamingClip,
    }

    /// <summary>
    /// An NPC the player can talk to: opens a session with the NPC Runtime server, streams the
    /// microphone (push-to-talk or open mic), plays the voice through this GameObject's
    /// AudioSource and stops it on barge-in. All logic lives in <see cref="NpcConversation"/>;
    /// this component moves samples between Unity and it, on the main thread.
    /// </summary>
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("NPC Runtime/NPC Agent")]
    public sealed class NpcAgent : MonoBehaviour
    {
        [Header("Server")]
        [Tooltip("WebSocket gateway, e.g. ws://127.0.0.1:8765/v1/converse")]
        public string serverUrl = "ws://127.0.0.1:8765/v1/converse";
        [Tooltip("Character id on the server (see ListCharacters).")]
        public string characterId = "jin";
        [Tooltip("Stable player id; the NPC's memory of the player is keyed by it. Empty = this device.")]
        public string playerId = "";
        public bool greetOnStart = true;
        public bool connectOnStart = true;

        [Header("Voice")]
        public MicrophoneMode microphone = MicrophoneMode.PushToTalk;
        [Tooltip("Empty = the default device.")]
        public string microphoneDevice = "";
#if ENABLE_LEGACY_INPUT_MANAGER
        [Tooltip("Push-to-talk key (legacy Input Manager); call BeginTalking/EndTalking from your own input otherwise.")]
        public KeyCode pushToTalkKey = KeyCode.V;
#endif
        [Tooltip("Open mic: do not send the microphone while the NPC speaks (no echo, but no voice barge-in).")]
        public bool halfDuplex = false;
        [Tooltip("Talking over the NPC stops it.")]
        public bool bargeIn = true;
        public PlaybackPath playback = PlaybackPath.FilterRead;
        [Tooltip("Audio held before a line starts, in ms.")]
        public int prebufferMs = 120;
        public bool textOnly = false;

        [Header("Events")]
        public StringEvent onTranscript = new StringEvent();
        public StringEvent onNpcText = new StringEvent();
        public StringEvent onNpcLine = new StringEvent();
        public EmotionEvent onEmotion = new EmotionEvent();
        public StringEvent onError = new StringEvent();

        private const int MicRate = 16000;
        private AudioSource _source;
        private AudioClip _mic;
        private int _micReadPos;
        private float[] _micBuffer = new float[0];
        private float[] _scratch;
        private bool _talking;
        private int _outputRate;

        /// <summary>The conversation (session, playback, visemes, actions) once connected.</summary>
        public NpcConversation Conversation { get; private set; }

        /// <summary>True while the session is open.</summary>
        public bool IsConnected
        {
            get { return Conversation != null && Conversation.Session.IsOpen; }
        }

        /// <summary>True while the NPC's voice is playing.</summary>
        public bool IsSpeaking
        {
            get { return Conversation != null && Conversation.Playback.IsPlaying; }
        }

        /// <summary>Raised on the main thread when the conversation exists, before the session starts; register action handlers here.</summary>
        public event Action<NpcConversation> ConversationCreated;

        private void Awake()
        {
            _source = GetComponent<AudioSource>();
            _outputRate = AudioSettings.outputSampleRate;
        }

        private void Start()
        {
            if (connectOnStart) Connect();
        }

        /// <summary>Opens the session (and the microphone, when used).</summary>
        public async void Connect()
        {
            if (Conversation != null) return;
            var session = NpcSession.OverWebSocket(serverUrl, DispatchMode.Queued);
            Conversation = new NpcConversation(session, _outputRate, prebufferMs);
            session.TranscriptReceived += t => onTranscript.Invoke(t.Text);
            session.TextReceived += t => onNpcText.Invoke(t.Delta);
            session.TurnEndReceived += e => onNpcLine.Invoke(e.HeardText);
            session.EmotionReceived += e => onEmotion.Invoke(e);
            session.ErrorReceived += e => onError.Invoke(e.Code + ": " + e.Message);
            session.Closed += c =>
            {
                if (!c.Clean) onError.Invoke(c.ToString());
            };
            if (ConversationCreated != null) ConversationCreated(Conversation);

            var start = new SessionStart
            {
                CharacterId = characterId,
                PlayerId = string.IsNullOrEmpty(playerId) ? SystemInfo.deviceUniqueIdentifier : playerId,
                InputAudio = AudioFormat.PcmS16le(MicRate),
                OutputAudio = AudioFormat.PcmS16le((uint)_outputRate),
                Visemes = !textOnly,
                Greet = greetOnStart,
                TextOnly = textOnly,
                Endpointing = new EndpointingOptions { PushToTalkOnly = microphone == MicrophoneMode.PushToTalk },
            };
            start.Metadata["engine"] = "Unity " + Application.unityVersion;
            start.Metadata["platform"] = Application.platform.ToString();
            var reporter = FindObjectOfType<SceneReporter>();
            if (reporter != null) start.Scene = reporter.TakeSnapshotForStart();

            StartPlayback();
            if (microphone != MicrophoneMode.Off) StartMicrophone();
            try
            {
                await Conversation.StartAsync(start);
            }
            catch (Exception e)
            {
                onError.Invoke(e.Message);
                Debug.LogWarning("NPC Runtime: " + e.Message, this);
            }
        }

        /// <summary>Sends typed input.</summary>
        public void Say(string text)
        {
            if (!IsConnected || string.IsNullOrEmpty(text)) return;
            if (bargeIn && IsSpeaking) Conversation.Interrupt();
            Conversation.Session.Post(new TextInput { Text = text });
        }

        /// <summary>Sends a game event, e.g. "player_gave_gift".</summary>
        public void Trigger(string eventName, bool react)
        {
            if (IsConnected) Conversation.Session.Post(new Protocol.Trigger { Name = eventName, React = react });
        }

        /// <summary>Push-to-talk pressed: barge in if the NPC speaks and start sending the microphone.</summary>
        public void BeginTalking()
        {
            if (_talking || !IsConnected) return;
            _talking = true;
            if (bargeIn && IsSpeaking) Conversation.Interrupt();
        }

        /// <summary>Push-to-talk released: the utterance ends now.</summary>
        public void EndTalking()
        {
            if (!_talking) return;
            _talking = false;
            PumpMicrophone();
            Conversation.EndUtterance();
        }

        /// <summary>Stops the NPC's current line.</summary>
        public void Interrupt()
        {
            if (IsConnected) Conversation.Interrupt();
        }

        private void Update()
        {
            if (Conversation == null) return;
            Conversation.Session.DispatchPending();
#if ENABLE_LEGACY_INPUT_MANAGER
            if (microphone == MicrophoneMode.PushToTalk)
            {
                if (Input.GetKeyDown(pushToTalkKey)) BeginTalking();
                if (Input.GetKeyUp(pushToTalkKey)) EndTalking();
            }
#endif
            PumpMicrophone();
            Conversation.Tick(Time.unscaledDeltaTime * 1000.0);
        }

        private void StartMicrophone()
        {
            if (Microphone.devices.Length == 0)
            {
                Debug.LogWarning("NPC Runtime: no microphone; text and triggers only.", this);
                microphone = MicrophoneMode.Off;
                return;
            }
            string device = string.IsNullOrEmpty(microphoneDevice) ? null : microphoneDevice;
            _mic = Microphone.Start(device, true, 1, MicRate);
            _micReadPos = 0;
        }

        // Moves what the microphone recorded since the last frame to the conversation.
        private void PumpMicrophone()
        {
            if (_mic == null || !IsConnected) return;
            string device = string.IsNullOrEmpty(microphoneDevice) ? null : microphoneDevice;
            int pos = Microphone.GetPosition(device);
            int available = (pos - _micReadPos + _mic.samples) % _mic.samples;
            if (available == 0) return;
            // GetData wraps around the looping microphone clip.
            if (_micBuffer.Length != available) _micBuffer = new float[available];
            _mic.GetData(_micBuffer, _micReadPos);
            _micReadPos = pos;
            bool send = microphone == MicrophoneMode.OpenMic ? !(halfDuplex && IsSpeaking) : _talking;
            if (send) Conversation.PushMicrophone(_micBuffer, 0, available, _mic.frequency);
        }

        private void StartPlayback()
        {
            if (playback == PlaybackPath.StreamingClip)
            {
                _source.clip = AudioClip.Create("npc-voice", _outputRate * 10, 1, _outputRate, true, OnClipRead);
            }
            else
            {
                // The source must play for OnAudioFilterRead to run; the filter replaces its (silent) output.
                var silent = AudioClip.Create("npc-voice", _outputRate, 1, _outputRate, false);
                _source.clip = silent;
            }
            _source.loop = true;
            _source.Play();
        }

        private void OnClipRead(float[] data)
        {
            var conversation = Conversation;
            if (conversation == null) Array.Clear(data, 0, data.Length);
            else conversation.ReadInterleaved(data, 1, ref _scratch);
        }

        // Audio thread.
        private void OnAudioFilterRead(float[] data, int channels)
        {
            if (playback != PlaybackPath.FilterRead) return;
            var conversation = Conversation;
            if (conversation == null) return;
            conversation.ReadInterleaved(data, channels, ref _scratch);
        }

        private void OnDestroy()
        {
            if (_mic != null) Microphone.End(string.IsNullOrEmpty(microphoneDevice) ? null : microphoneDevice);
            var conversation = Conversation;
            Conversation = null;
            if (conversation == null) return;
            conversation.Dispose();
            conversation.Session.Dispose();
        }

        /// <summary>A UnityEvent with a string.</summary>
        [Serializable]
        public sealed class StringEvent : UnityEvent<string>
        {
        }

        /// <summary>A UnityEvent with an <see cref="Emotion"/>.</summary>
        [Serializable]
        public sealed class EmotionEvent : UnityEvent<Emotion>
        {
        }
    }
}
