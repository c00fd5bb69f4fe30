using NpcRuntime.Protocol;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary><c>pick_up</c>: attaches a portable target to the NPC's hand.</summary>
    [AddComponentMenu("NPC Runtime/Actions/Pick Up (attach)")]
    public class PickUpAction : NpcActionHandler
    {
        [Tooltip("Where held objects go (a hand bone). Empty = this transform.")]
        public Transform hand;
        [Tooltip("Objects farther than this, in metres, cannot be reached.")]
        public float reach = 1.5f;

        /// <inheritdoc />
        public override string Verb
        {
            get { return "pick_up"; }
        }

        /// <inheritdoc />
        protected override void Begin(ActionCommand command)
        {
            var target = RequireTarget(command);
            if (target == null) return;
            var tag = target.GetComponent<NpcSceneObject>();
            if (tag != null && !tag.portable)
            {
                Fail(command.TargetId + " cannot be carried");
                return;
            }
            var holder = hand != null ? hand : transform;
            float distance = Vector3.Distance(holder.position, target.transform.position);
            if (distance > reach)
            {
                Fail(command.TargetId + " is " + distance.ToString("0.0") + " m away; move_to it first");
                return;
            }
            var body = target.GetComponent<Rigidbody>();
            if (body != null) body.isKinematic = true;
            target.transform.SetParent(holder, false);
            target.transform.localPosition = Vector3.zero;
            Succeed("holding " + command.TargetId);
        }
    }
}
