using System;
using System.Collections.Generic;
using NpcRuntime.Protocol;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// Tags a GameObject as part of the scene the NPC perceives. Its id is how actions refer
    /// to it (<see cref="ActionCommand.TargetId"/>); its place in the hierarchy gives its
    /// relation (in a place or container, held by a character, on an object).
    /// </summary>
    [AddComponentMenu("NPC Runtime/Scene Object")]
    [DisallowMultipleComponent]
    public sealed class NpcSceneObject : MonoBehaviour
    {
        [Tooltip("Stable id, unique in the world. Empty = the GameObject's name.")]
        public string id = "";
        public NodeKind kind = NodeKind.Object;
        [Tooltip("Object kind, e.g. axe, door, stool.")]
        public string type = "";
        [TextArea] public string description = "";
        public bool portable;
        public bool container;
        [Tooltip("Hidden from NPC perception.")]
        public bool hidden;
        public List<StateEntry> state = new List<StateEntry>();

        /// <summary>The node id.</summary>
        public string NodeId
        {
            get { return string.IsNullOrEmpty(id) ? gameObject.name : id; }
        }

        /// <summary>Sets a state entry (e.g. "open" = "true"); reported with the next scene update.</summary>
        public void SetState(string key, string value)
        {
            foreach (var entry in state)
            {
                if (entry.key != key) continue;
                entry.value = value;
                return;
            }
            state.Add(new StateEntry { key = key, value = value });
        }

        /// <summary>The node as the protocol sends it.</summary>
        public SceneNode ToNode()
        {
            var p = transform.position;
            var node = new SceneNode
            {
                Id = NodeId,
                Kind = kind,
                Name = gameObject.name,
                Description = description,
                Type = type,
                Portable = portable,
                Container = container,
                Hidden = hidden || !gameObject.activeInHierarchy,
                Position = new Vec3(p.x, p.y, p.z),
            };
            foreach (var entry in state) node.State[entry.key] = entry.value;
            return node;
        }

        /// <summary>One state key and value.</summary>
        [Serializable]
        public sealed class StateEntry
        {
            public string key;
            public string value;
        }
    }
}
