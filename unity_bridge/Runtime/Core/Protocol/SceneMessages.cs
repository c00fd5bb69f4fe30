using System.Collections.Generic;

namespace NpcRuntime.Protocol
{
    /// <summary>A position in metres (the proto's <c>Vector3</c>; renamed to avoid clashing with engine types).</summary>
    public struct Vec3
    {
        /// <summary>X.</summary>
        public float X;
        /// <summary>Y.</summary>
        public float Y;
        /// <summary>Z.</summary>
        public float Z;

        /// <summary>Creates a vector.</summary>
        public Vec3(float x, float y, float z)
        {
            X = x;
            Y = y;
            Z = z;
        }

        /// <summary>Euclidean distance between two points.</summary>
        public static float Distance(Vec3 a, Vec3 b)
        {
            float dx = a.X - b.X, dy = a.Y - b.Y, dz = a.Z - b.Z;
            return (float)System.Math.Sqrt(dx * dx + dy * dy + dz * dz);
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return "(" + X + ", " + Y + ", " + Z + ")";
        }
    }

    /// <summary>One thing, place or character in the scene graph.</summary>
    public sealed class SceneNode
    {
        /// <summary>Creates a node with empty state.</summary>
        public SceneNode()
        {
            State = new Dictionary<string, string>();
        }

        /// <summary>Stable id chosen by the game, unique within the world.</summary>
        public string Id { get; set; }
        /// <summary>Place, object, NPC or player.</summary>
        public NodeKind Kind { get; set; }
        /// <summary>Display name.</summary>
        public string Name { get; set; }
        /// <summary>What the NPC may know about it.</summary>
        public string Description { get; set; }
        /// <summary>Object kind, e.g. "axe", "door", "stool".</summary>
        public string Type { get; set; }
        /// <summary>Open/locked/lit and other game state.</summary>
        public Dictionary<string, string> State { get; set; }
        /// <summary>Can be picked up.</summary>
        public bool Portable { get; set; }
        /// <summary>Can hold other objects.</summary>
        public bool Container { get; set; }
        /// <summary>Hidden from NPC perception.</summary>
        public bool Hidden { get; set; }
        /// <summary>World position, if known.</summary>
        public Vec3? Position { get; set; }

        /// <summary>A deep copy.</summary>
        public SceneNode Clone()
        {
            var copy = (SceneNode)MemberwiseClone();
            copy.State = new Dictionary<string, string>(State);
            return copy;
        }
    }

    /// <summary>A directed relation: subject (kind) object.</summary>
    public sealed class SceneRelation
    {
        /// <summary>The node the relation is about.</summary>
        public string SubjectId { get; set; }
        /// <summary>In, on, held by, near or connected.</summary>
        public RelationKind Kind { get; set; }
        /// <summary>The other node.</summary>
        public string ObjectId { get; set; }
        /// <summary>Walking distance for <see cref="RelationKind.Connected"/>, in metres.</summary>
        public float Distance { get; set; }

        /// <summary>Identity of the relation (subject, kind, object), ignoring distance.</summary>
        public string Key
        {
            get { return SubjectId + "\u0001" + (int)Kind + "\u0001" + ObjectId; }
        }
    }

    /// <summary>A whole scene graph.</summary>
    public sealed class SceneSnapshot
    {
        /// <summary>Creates an empty snapshot.</summary>
        public SceneSnapshot()
        {
            Nodes = new List<SceneNode>();
            Relations = new List<SceneRelation>();
        }

        /// <summary>The world id.</summary>
        public string WorldId { get; set; }
        /// <summary>All nodes.</summary>
        public List<SceneNode> Nodes { get; set; }
        /// <summary>All relations.</summary>
        public List<SceneRelation> Relations { get; set; }
    }
}
