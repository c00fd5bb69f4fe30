using NpcRuntime.Protocol;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// Connects the NPC's <see cref="ActionCommand"/>s to the <see cref="NpcActionHandler"/>
    /// components on this GameObject and its children (move_to, pick_up, emote, and any verb
    /// game code adds by deriving from <see cref="NpcActionHandler"/>). Commands run one at a
    /// time; results go back to the server as ActionResults.
    /// </summary>
    [AddComponentMenu("NPC Runtime/Action Executor")]
    public sealed class ActionExecutor : MonoBehaviour
    {
        public NpcAgent agent;
        public SceneReporter scene;
        [Tooltip("A command still running after this many seconds fails.")]
        public float timeoutSeconds = 30f;

        private float _runningSince = -1f;
        private ActionCommand _watched;

        private void Awake()
        {
            if (agent == null) agent = GetComponentInParent<NpcAgent>();
            if (scene == null) scene = FindObjectOfType<SceneReporter>();
            agent.ConversationCreated += Register;
            if (agent.Conversation != null) Register(agent.Conversation);
        }

        private void Register(NpcConversation conversation)
        {
            foreach (var handler in GetComponentsInChildren<NpcActionHandler>(true))
            {
                handler.Scene = scene;
                conversation.Actions.Register(handler.Verb, handler);
            }
        }

        private void Update()
        {
            var conversation = agent == null ? null : agent.Conversation;
            if (conversation == null) return;
            var running = conversation.Actions.Running;
            if (running != _watched)
            {
                _watched = running;
                _runningSince = Time.time;
            }
            if (running != null && timeoutSeconds > 0 && Time.time - _runningSince > timeoutSeconds)
            {
                conversation.Actions.CancelAll("it took longer than " + timeoutSeconds + " s");
            }
        }

        private void OnDestroy()
        {
            if (agent != null) agent.ConversationCreated -= Register;
        }
    }
}
