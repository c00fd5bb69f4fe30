using System;
using System.Collections.Generic;
using NpcRuntime.Protocol;

namespace NpcRuntime.Scene
{
    /// <summary>Computes the <see cref="SceneUpdate"/> that turns one snapshot into another.</summary>
    public static class SceneDelta
    {
        /// <summary>
        /// The delta from <paramref name="before"/> to <paramref name="after"/>: nodes added or
        /// changed are upserted whole, missing nodes removed, and relations added or removed.
        /// A node that only moved less than <paramref name="positionTolerance"/> metres is not
        /// resent. With no <paramref name="before"/>, the update replaces the whole scene.
        /// </summary>
        public static SceneUpdate Between(SceneSnapshot before, SceneSnapshot after, float positionTolerance = 0.25f)
        {
            if (after == null) throw new ArgumentNullException("after");
            if (before == null || before.WorldId != after.WorldId)
            {
                return new SceneUpdate { WorldId = after.WorldId, Replace = after };
            }
            var update = new SceneUpdate { WorldId = after.WorldId };
            var old = new Dictionary<string, SceneNode>(StringComparer.Ordinal);
            foreach (var n in before.Nodes) old[n.Id] = n;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var n in after.Nodes)
            {
                seen.Add(n.Id);
                SceneNode previous;
                if (!old.TryGetValue(n.Id, out previous) || !SameNode(previous, n, positionTolerance)) update.UpsertNodes.Add(n.Clone());
            }
            foreach (var n in before.Nodes)
            {
                if (!seen.Contains(n.Id)) update.RemoveNodeIds.Add(n.Id);
            }
            var oldRelations = Index(before.Relations);
            var newRelations = Index(after.Relations);
            foreach (var kv in newRelations)
            {
                SceneRelation previous;
                if (!oldRelations.TryGetValue(kv.Key, out previous) || previous.Distance != kv.Value.Distance) update.AddRelations.Add(kv.Value);
            }
            foreach (var kv in oldRelations)
            {
                // Relations of removed nodes go with them; the server drops them itself.
                if (newRelations.ContainsKey(kv.Key)) continue;
                if (!seen.Contains(kv.Value.SubjectId) || !seen.Contains(kv.Value.ObjectId)) continue;
                update.RemoveRelations.Add(kv.Value);
            }
            return update;
        }

        /// <summary>True when two nodes are equal, positions within <paramref name="positionTolerance"/>.</summary>
        public static bool SameNode(SceneNode a, SceneNode b, float positionTolerance)
        {
            if (a.Id != b.Id || a.Kind != b.Kind || !Same(a.Name, b.Name) || !Same(a.Description, b.Description) || !Same(a.Type, b.Type)) return false;
            if (a.Portable != b.Portable || a.Container != b.Container || a.Hidden != b.Hidden) return false;
            if (a.State.Count != b.State.Count) return false;
            foreach (var kv in a.State)
            {
                string v;
                if (!b.State.TryGetValue(kv.Key, out v) || v != kv.Value) return false;
            }
            if (a.Position.HasValue != b.Position.HasValue) return false;
            return !a.Position.HasValue || Vec3.Distance(a.Position.Value, b.Position.Value) < positionTolerance;
        }

        // proto3 has no null strings: null and empty are the same value.
        private static bool Same(string a, string b)
        {
            return (a ?? "") == (b ?? "");
        }

        private static Dictionary<string, SceneRelation> Index(List<SceneRelation> relations)
        {
            var result = new Dictionary<string, SceneRelation>(StringComparer.Ordinal);
            foreach (var r in relations) result[r.Key] = r;
            return result;
        }
    }
}
