using NpcRuntime.Protocol;

namespace NpcRuntime.Scene
{
    /// <summary>
    /// Remembers the scene last sent to the server and turns each new snapshot into the
    /// smallest <see cref="SceneUpdate"/> (or none when nothing changed).
    /// </summary>
    public sealed class SceneTracker
    {
        private readonly float _positionTolerance;
        private SceneSnapshot _sent;

        /// <summary>Creates a tracker.</summary>
        /// <param name="positionTolerance">Movements below this many metres are not reported.</param>
        public SceneTracker(float positionTolerance = 0.25f)
        {
            _positionTolerance = positionTolerance;
        }

        /// <summary>The snapshot the server has, as far as this tracker knows.</summary>
        public SceneSnapshot Sent
        {
            get { return _sent; }
        }

        /// <summary>Records <paramref name="snapshot"/> as sent in full (e.g. in <see cref="SessionStart.Scene"/>).</summary>
        public void MarkSent(SceneSnapshot snapshot)
        {
            _sent = snapshot;
        }

        /// <summary>
        /// The update that brings the server from the last sent snapshot to <paramref name="current"/>,
        /// or null when nothing changed. The snapshot is then considered sent.
        /// </summary>
        public SceneUpdate Update(SceneSnapshot current)
        {
            var update = SceneDelta.Between(_sent, current, _positionTolerance);
            if (update.IsEmpty) return null;
            // Unreported small moves stay measured against the last sent position.
            _sent = _sent == null || update.Replace != null ? current : Merge(_sent, current, update);
            return update;
        }

        /// <summary>Forgets what was sent; the next update replaces the whole scene.</summary>
        public void Reset()
        {
            _sent = null;
        }

        private static SceneSnapshot Merge(SceneSnapshot sent, SceneSnapshot current, SceneUpdate update)
        {
            var upserted = new System.Collections.Generic.HashSet<string>();
            foreach (var n in update.UpsertNodes) upserted.Add(n.Id);
            var old = new System.Collections.Generic.Dictionary<string, SceneNode>();
            foreach (var n in sent.Nodes) old[n.Id] = n;
            var merged = new SceneSnapshot { WorldId = current.WorldId };
            foreach (var n in current.Nodes)
            {
                SceneNode previous;
                merged.Nodes.Add(!upserted.Contains(n.Id) && old.TryGetValue(n.Id, out previous) ? previous : n.Clone());
            }
            merged.Relations.AddRange(current.Relations);
            return merged;
        }
    }
}
