using NpcRuntime.Protocol;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// <c>emote</c>: fires an Animator trigger named after the command's <c>emotion</c>,
    /// <c>gesture</c> or <c>name</c> argument (e.g. "wave", "bow", "joy").
    /// </summary>
    [AddComponentMenu("NPC Runtime/Actions/Emote (Animator)")]
    public class EmoteAction : NpcActionHandler
    {
        public Animator animator;
        [Tooltip("Prepended to the argument to form the trigger name, e.g. \"Emote_\".")]
        public string triggerPrefix = "";
        [Tooltip("Used when the command names no gesture.")]
        public string defaultTrigger = "nod";

        /// <inheritdoc />
        public override string Verb
        {
            get { return "emote"; }
        }

        private void Awake()
        {
            if (animator == null) animator = GetComponentInChildren<Animator>();
        }

        /// <inheritdoc />
        protected override void Begin(ActionCommand command)
        {
            string gesture;
            if (!command.Arguments.TryGetValue("emotion", out gesture)
                && !command.Arguments.TryGetValue("gesture", out gesture)
                && !command.Arguments.TryGetValue("name", out gesture))
            {
                gesture = defaultTrigger;
            }
            string trigger = triggerPrefix + gesture;
            if (animator == null || !HasTrigger(trigger))
            {
                Fail("this character cannot " + gesture);
                return;
            }
            animator.SetTrigger(trigger);
            Succeed();
        }

        private bool HasTrigger(string trigger)
        {
            foreach (var p in animator.parameters)
            {
                if (p.type == AnimatorControllerParameterType.Trigger && p.name == trigger) return true;
            }
            return false;
        }
    }
}
