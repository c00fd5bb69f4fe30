using NpcRuntime.Protocol;
using UnityEngine;
using UnityEngine.AI;

namespace NpcRuntime.Unity
{
    /// <summary><c>move_to</c>: walks the NPC's NavMeshAgent to the target scene object.</summary>
    [AddComponentMenu("NPC Runtime/Actions/Move To (NavMesh)")]
    [RequireComponent(typeof(NavMeshAgent))]
    public class MoveToAction : NpcActionHandler
    {
        [Tooltip("Arrived when this close to the target, in metres.")]
        public float arriveDistance = 1.0f;

        private NavMeshAgent _nav;

        /// <inheritdoc />
        public override string Verb
        {
            get { return "move_to"; }
        }

        private void Awake()
        {
            _nav = GetComponent<NavMeshAgent>();
        }

        /// <inheritdoc />
        protected override void Begin(ActionCommand command)
        {
            var target = RequireTarget(command);
            if (target == null) return;
            if (!_nav.SetDestination(target.transform.position)) Fail("cannot walk to " + command.TargetId);
        }

        /// <inheritdoc />
        protected override void Stop(ActionCommand command)
        {
            if (_nav.isOnNavMesh) _nav.ResetPath();
        }

        private void Update()
        {
            if (!IsRunning || _nav.pathPending) return;
            if (_nav.pathStatus == NavMeshPathStatus.PathInvalid)
            {
                Fail("there is no way to " + Command.TargetId);
                return;
            }
            if (_nav.remainingDistance <= Mathf.Max(arriveDistance, _nav.stoppingDistance)) Succeed("arrived at " + Command.TargetId);
        }
    }
}
