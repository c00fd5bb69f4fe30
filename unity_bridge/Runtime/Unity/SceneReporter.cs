using System.Collections.Generic;
using NpcRuntime.Protocol;
using NpcRuntime.Scene;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// Reports the tagged objects (<see cref="NpcSceneObject"/>) to the NPC: the whole scene
    /// in SessionStart, then a delta every <see cref="interval"/> seconds when something changed
    /// (moves under <see cref="positionTolerance"/> metres are ignored). Also resolves node
    /// ids back to GameObjects for action handlers.
    /// </summary>
    [AddComponentMenu("NPC Runtime/Scene Reporter")]
    public sealed class SceneReporter : MonoBehaviour
    {
        public string worldId = "world";
        public NpcAgent agent;
        [Tooltip("Seconds between scene checks.")]
        public float interval = 0.5f;
        public float positionTolerance = 0.25f;

        private readonly Dictionary<string, NpcSceneObject> _byId = new Dictionary<string, NpcSceneObject>();
        private SceneTracker _tracker;
        private float _next;

        /// <summary>The GameObject with node id <paramref name="nodeId"/>, or null.</summary>
        public GameObject Find(string nodeId)
        {
            NpcSceneObject o;
            if (nodeId == null || !_byId.TryGetValue(nodeId, out o) || o == null) Refresh();
            return nodeId != null && _byId.TryGetValue(nodeId, out o) && o != null ? o.gameObject : null;
        }

        /// <summary>The scene now, for <see cref="SessionStart.Scene"/>; later updates are deltas from it.</summary>
        public SceneSnapshot TakeSnapshotForStart()
        {
            _tracker = new SceneTracker(positionTolerance);
            var snapshot = Snapshot();
            _tracker.MarkSent(snapshot);
            return snapshot;
        }

        /// <summary>The scene now.</summary>
        public SceneSnapshot Snapshot()
        {
            Refresh();
            var builder = new SceneBuilder(worldId);
            foreach (var o in _byId.Values) builder.Node(o.ToNode());
            foreach (var o in _byId.Values)
            {
                var parent = o.transform.parent == null ? null : o.transform.parent.GetComponentInParent<NpcSceneObject>();
                if (parent != null) builder.Relate(o.NodeId, SceneBuilder.RelationToParent(parent.ToNode()), parent.NodeId);
            }
            return builder.Build();
        }

        private void Update()
        {
            if (agent == null || !agent.IsConnected || Time.unscaledTime < _next) return;
            _next = Time.unscaledTime + interval;
            if (_tracker == null) _tracker = new SceneTracker(positionTolerance);
            var update = _tracker.Update(Snapshot());
            if (update != null) agent.Conversation.Session.Post(update);
        }

        private void Refresh()
        {
            _byId.Clear();
            foreach (var o in FindObjectsOfType<NpcSceneObject>(true))
            {
                if (_byId.ContainsKey(o.NodeId))
                {
                    Debug.LogWarning("NPC Runtime: two scene objects share the id '" + o.NodeId + "'; one is ignored.", o);
                    continue;
                }
                _byId.Add(o.NodeId, o);
            }
        }
    }
}
