using System.Text;
using NpcRuntime.Protocol;
using NpcRuntime.Unity;
using UnityEngine;

namespace NpcRuntime.Samples
{
    /// <summary>
    /// A minimal talking NPC. Put this on an empty GameObject in any scene, press Play, and
    /// type or hold the push-to-talk button. It adds an <see cref="NpcAgent"/> (with its
    /// AudioSource) if there is none, shows the conversation in an IMGUI panel, and registers
    /// a game-specific verb ("serve") from code next to the stock handlers.
    /// </summary>
    public sealed class BasicConversationSample : MonoBehaviour
    {
        public string serverUrl = "ws://127.0.0.1:8765/v1/converse";
        public string characterId = "jin";

        private NpcAgent _agent;
        private readonly StringBuilder _log = new StringBuilder();
        private string _typed = "What soup do you have tonight?";
        private string _mood = "";
        private Vector2 _scroll;

        private void Awake()
        {
            _agent = GetComponent<NpcAgent>();
            if (_agent == null)
            {
                gameObject.SetActive(false); // configure before NpcAgent.Start runs
                _agent = gameObject.AddComponent<NpcAgent>();
                _agent.serverUrl = serverUrl;
                _agent.characterId = characterId;
                _agent.microphone = MicrophoneMode.PushToTalk;
                gameObject.AddComponent<EmoteAction>();
                gameObject.AddComponent<ActionExecutor>();
                gameObject.SetActive(true);
            }
            _agent.onTranscript.AddListener(t => _log.Append("\nyou: ").Append(t));
            _agent.onNpcText.AddListener(d => _log.Append(d));
            _agent.onNpcLine.AddListener(_ => _log.Append('\n'));
            _agent.onEmotion.AddListener(e => _mood = e.Category + " " + e.Intensity.ToString("0.00"));
            _agent.onError.AddListener(m => _log.Append("\n[error] ").Append(m));
            _agent.ConversationCreated += conversation =>
            {
                // A verb only this game knows: succeed after logging it.
                conversation.Actions.Register("serve", (command, context) =>
                {
                    _log.Append("\n[serves ").Append(command.TargetId).Append(']');
                    context.Succeed("served");
                });
                conversation.Session.TurnStartedReceived += t => _log.Append("\n").Append(characterId).Append(": ");
            };
        }

        private void OnGUI()
        {
            GUILayout.BeginArea(new Rect(10, 10, 520, 420), GUI.skin.box);
            GUILayout.Label(_agent.IsConnected ? "connected to " + characterId + "  mood: " + _mood : "connecting to " + serverUrl + " ...");
            _scroll = GUILayout.BeginScrollView(_scroll, GUILayout.Height(300));
            GUILayout.Label(_log.ToString());
            GUILayout.EndScrollView();
            GUILayout.BeginHorizontal();
            _typed = GUILayout.TextField(_typed, GUILayout.Width(360));
            if (GUILayout.Button("Say") && _typed.Length > 0)
            {
                _log.Append("\nyou: ").Append(_typed);
                _agent.Say(_typed);
                _typed = "";
            }
            GUILayout.EndHorizontal();
            GUILayout.BeginHorizontal();
            bool held = GUILayout.RepeatButton("Hold to talk");
            if (held) _agent.BeginTalking();
            else if (Event.current.type == EventType.Repaint) _agent.EndTalking();
            if (GUILayout.Button("Give gift")) _agent.Trigger("player_gave_gift", true);
            if (GUILayout.Button("Interrupt")) _agent.Interrupt();
            GUILayout.EndHorizontal();
            GUILayout.EndArea();
        }
    }
}
