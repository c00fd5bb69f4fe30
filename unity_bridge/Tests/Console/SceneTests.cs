using System;
using NpcRuntime.Protocol;
using NpcRuntime.Scene;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>Scene snapshot building and delta computation.</summary>
    internal static class SceneTests
    {
        public static void Register(TestRunner t)
        {
            t.Run("scene: builder validates ids and relations", BuilderValidates);
            t.Run("scene: delta upserts changed nodes, removes nodes and relations", Delta);
            t.Run("scene: tracker ignores jitter but accumulates small moves", Tracker);
        }

        private static void BuilderValidates()
        {
            Assert.Throws<ArgumentException>(() => new SceneBuilder("w").Place("a", "A").Place("a", "again"), "duplicate id");
            Assert.Throws<ArgumentException>(() => new SceneBuilder("w").Place("", "A"), "empty id");
            Assert.Throws<InvalidOperationException>(() => new SceneBuilder("w").Place("a", "A").Relate("a", RelationKind.In, "nowhere").Build(), "dangling relation");
            var s = Samples.Scene();
            Assert.Equal(6, s.Nodes.Count, "nodes");
            Assert.Equal(RelationKind.In, SceneBuilder.RelationToParent(s.Nodes[0]), "in a place");
            Assert.Equal(RelationKind.In, SceneBuilder.RelationToParent(s.Nodes[3]), "in a container");
            Assert.Equal(RelationKind.On, SceneBuilder.RelationToParent(s.Nodes[2]), "on an object");
            Assert.Equal(RelationKind.HeldBy, SceneBuilder.RelationToParent(s.Nodes[5]), "held by the player");
            Assert.Equal("open", s.Nodes[3].State["lid"], "state");
        }

        private static void Delta()
        {
            var before = Samples.Scene();
            var full = SceneDelta.Between(null, before);
            Assert.True(full.Replace == before, "no previous scene: replace");
            Assert.True(SceneDelta.Between(before, Samples.Scene()).IsEmpty, "same scene: empty");

            var after = Samples.MovedScene();
            after.Nodes.RemoveAt(1); // the alley goes away, and its CONNECTED relation with it
            after.Relations.RemoveAt(3);
            var u = SceneDelta.Between(before, after);
            Assert.Equal("ladle,pot", Ids(u), "moved ladle and closed pot upserted");
            Assert.Equal("alley", string.Join(",", u.RemoveNodeIds.ToArray()), "removed node");
            Assert.Equal(1, u.AddRelations.Count, "one relation added");
            Assert.Equal(RelationKind.HeldBy, u.AddRelations[0].Kind, "ladle held by the player");
            Assert.Equal(1, u.RemoveRelations.Count, "ladle no longer in the pot (the alley's relation goes with the node)");
            Assert.Equal("ladle", u.RemoveRelations[0].SubjectId, "removed relation");
        }

        private static void Tracker()
        {
            var tracker = new SceneTracker(positionTolerance: 0.25f);
            Assert.True(tracker.Update(Samples.Scene()).Replace != null, "first update is a whole scene");
            Assert.True(tracker.Update(Samples.Scene()) == null, "nothing changed");
            var nudged = Samples.Scene();
            nudged.Nodes[4].Position = new Vec3(0.15f, 0f, -1.5f);
            Assert.True(tracker.Update(nudged) == null, "a 15 cm move is not reported");
            var moved = Samples.Scene();
            moved.Nodes[4].Position = new Vec3(0.3f, 0f, -1.5f);
            var u = tracker.Update(moved);
            Assert.True(u != null && Ids(u) == "jin", "two small moves add up to a reported one");
        }

        private static string Ids(SceneUpdate u)
        {
            var ids = new System.Collections.Generic.List<string>();
            foreach (var n in u.UpsertNodes) ids.Add(n.Id);
            return string.Join(",", ids.ToArray());
        }
    }
}
