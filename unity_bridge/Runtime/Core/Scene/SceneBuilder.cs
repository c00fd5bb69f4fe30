using System;
using System.Collections.Generic;
using NpcRuntime.Protocol;

namespace NpcRuntime.Scene
{
    /// <summary>
    /// Builds a <see cref="SceneSnapshot"/> fluently and checks it: node ids are unique and
    /// non-empty, and every relation refers to nodes of the snapshot.
    /// </summary>
    /// <example>
    /// <code>
    /// var scene = new SceneBuilder("neon-city")
    ///     .Place("stall", "Jin's ramen stall")
    ///     .Object("ladle", "ladle", "ladle", portable: true)
    ///     .Relate("ladle", RelationKind.In, "stall")
    ///     .Build();
    /// </code>
    /// </example>
    public sealed class SceneBuilder
    {
        private readonly SceneSnapshot _snapshot;
        private readonly Dictionary<string, SceneNode> _byId = new Dictionary<string, SceneNode>(StringComparer.Ordinal);

        /// <summary>Starts a snapshot of world <paramref name="worldId"/>.</summary>
        public SceneBuilder(string worldId)
        {
            _snapshot = new SceneSnapshot { WorldId = worldId };
        }

        /// <summary>Adds a node (copied).</summary>
        public SceneBuilder Node(SceneNode node)
        {
            if (node == null) throw new ArgumentNullException("node");
            if (string.IsNullOrEmpty(node.Id)) throw new ArgumentException("a scene node needs an id");
            if (_byId.ContainsKey(node.Id)) throw new ArgumentException("duplicate scene node id '" + node.Id + "'");
            var copy = node.Clone();
            _byId.Add(copy.Id, copy);
            _snapshot.Nodes.Add(copy);
            return this;
        }

        /// <summary>Adds a place.</summary>
        public SceneBuilder Place(string id, string name, string description = null)
        {
            return Node(new SceneNode { Id = id, Kind = NodeKind.Place, Name = name, Description = description });
        }

        /// <summary>Adds an object.</summary>
        public SceneBuilder Object(string id, string name, string type, bool portable = false, bool container = false, Vec3? position = null)
        {
            return Node(new SceneNode
            {
                Id = id,
                Kind = NodeKind.Object,
                Name = name,
                Type = type,
                Portable = portable,
                Container = container,
                Position = position,
            });
        }

        /// <summary>Adds a character (NPC or player).</summary>
        public SceneBuilder Character(string id, string name, bool player, Vec3? position = null)
        {
            return Node(new SceneNode { Id = id, Kind = player ? NodeKind.Player : NodeKind.Npc, Name = name, Position = position });
        }

        /// <summary>Sets one state entry of an added node (e.g. "open" = "true").</summary>
        public SceneBuilder State(string nodeId, string key, string value)
        {
            SceneNode node;
            if (!_byId.TryGetValue(nodeId, out node)) throw new ArgumentException("no scene node '" + nodeId + "'");
            node.State[key] = value;
            return this;
        }

        /// <summary>Adds a relation <paramref name="subjectId"/> (kind) <paramref name="objectId"/>.</summary>
        public SceneBuilder Relate(string subjectId, RelationKind kind, string objectId, float distance = 0f)
        {
            if (kind == RelationKind.Unspecified) throw new ArgumentException("a relation needs a kind");
            _snapshot.Relations.Add(new SceneRelation { SubjectId = subjectId, Kind = kind, ObjectId = objectId, Distance = distance });
            return this;
        }

        /// <summary>
        /// The relation a node has to the node it is attached to in the game's hierarchy:
        /// <see cref="RelationKind.In"/> a place or container, <see cref="RelationKind.HeldBy"/>
        /// a character, otherwise <see cref="RelationKind.On"/>.
        /// </summary>
        public static RelationKind RelationToParent(SceneNode parent)
        {
            if (parent == null) throw new ArgumentNullException("parent");
            switch (parent.Kind)
            {
                case NodeKind.Place: return RelationKind.In;
                case NodeKind.Npc:
                case NodeKind.Player: return RelationKind.HeldBy;
                default: return parent.Container ? RelationKind.In : RelationKind.On;
            }
        }

        /// <summary>The snapshot. Throws when a relation names a node that was not added.</summary>
        public SceneSnapshot Build()
        {
            foreach (var r in _snapshot.Relations)
            {
                if (!_byId.ContainsKey(r.SubjectId ?? "")) throw new InvalidOperationException("relation subject '" + r.SubjectId + "' is not a node");
                if (!_byId.ContainsKey(r.ObjectId ?? "")) throw new InvalidOperationException("relation object '" + r.ObjectId + "' is not a node");
            }
            var result = new SceneSnapshot { WorldId = _snapshot.WorldId };
            foreach (var n in _snapshot.Nodes) result.Nodes.Add(n.Clone());
            result.Relations.AddRange(_snapshot.Relations);
            return result;
        }
    }
}
