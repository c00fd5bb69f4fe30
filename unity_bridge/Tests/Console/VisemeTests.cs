using NpcRuntime.LipSync;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>The viseme scheduler: timing relative to the turn, cross-fades, silence.</summary>
    internal static class VisemeTests
    {
        public static void Register(TestRunner t)
        {
            t.Run("visemes: current viseme follows the played position", FollowsPosition);
            t.Run("visemes: cross-fade between consecutive visemes and to rest", CrossFades);
            t.Run("visemes: chunk order does not matter; unknown and dropped turns are silent", OrderAndSilence);
            t.Run("visemes: OVR blendshape names map both ways", BlendShapeNames);
        }

        private static VisemeScheduler Scheduler()
        {
            var s = new VisemeScheduler(crossFadeMs: 40);
            var first = new NpcAudio { TurnId = "t", Sequence = 0, OffsetMs = 0 };
            first.Visemes.Add(new Viseme { Id = VisemeId.AA, StartMs = 0, DurationMs = 100, Weight = 1f });
            first.Visemes.Add(new Viseme { Id = VisemeId.PP, StartMs = 100, DurationMs = 60, Weight = 0.8f });
            var second = new NpcAudio { TurnId = "t", Sequence = 1, OffsetMs = 160 };
            second.Visemes.Add(new Viseme { Id = VisemeId.E, StartMs = 0, DurationMs = 100, Weight = 1f });
            s.Add(first);
            s.Add(second);
            return s;
        }

        private static void FollowsPosition()
        {
            var s = Scheduler();
            Assert.Equal(VisemeId.AA, s.Evaluate("t", 60).Dominant, "AA at 60 ms");
            Assert.Equal(VisemeId.PP, s.Evaluate("t", 150).Dominant, "PP at 150 ms");
            Assert.Equal(VisemeId.E, s.Evaluate("t", 230).Dominant, "E of the second chunk at 230 ms (offset 160 + 70)");
            Assert.Equal(VisemeId.Sil, s.Evaluate("t", 400).Dominant, "rest after the last viseme");
            Assert.Equal(3, s.Count("t"), "three visemes held");
        }

        private static void CrossFades()
        {
            var s = Scheduler();
            var start = s.Evaluate("t", 20);
            Assert.Near(0.5, start.WeightOf(VisemeId.AA), 1e-4, "AA fading in from rest");
            Assert.Near(0.5, start.WeightOf(VisemeId.Sil), 1e-4, "rest fading out");
            var mid = s.Evaluate("t", 120);
            Assert.Near(0.4, mid.WeightOf(VisemeId.PP), 1e-4, "PP half in (0.5 × 0.8)");
            Assert.Near(0.5, mid.WeightOf(VisemeId.AA), 1e-4, "AA half out");
            Assert.Near(0.8, s.Evaluate("t", 150).WeightOf(VisemeId.PP), 1e-4, "PP fully in at its weight");
            var after = s.Evaluate("t", 280);
            Assert.Near(0.5, after.WeightOf(VisemeId.Sil), 1e-4, "rest fading in after the end");
            Assert.Near(0.5, after.WeightOf(VisemeId.E), 1e-4, "E fading out");
            var weights = new float[VisemeScheduler.VisemeCount];
            s.Evaluate("t", 120, weights);
            Assert.Near(0.9, Sum(weights), 1e-4, "weights array holds both visemes");
        }

        private static void OrderAndSilence()
        {
            var s = new VisemeScheduler(40);
            var second = new NpcAudio { TurnId = "t", OffsetMs = 160 };
            second.Visemes.Add(new Viseme { Id = VisemeId.E, StartMs = 0, DurationMs = 100, Weight = 1f });
            var first = new NpcAudio { TurnId = "t", OffsetMs = 0 };
            first.Visemes.Add(new Viseme { Id = VisemeId.AA, StartMs = 0, DurationMs = 160, Weight = 1f });
            s.Add(second);
            s.Add(first);
            Assert.Equal(VisemeId.AA, s.Evaluate("t", 100).Dominant, "AA first");
            Assert.Equal(VisemeId.E, s.Evaluate("t", 200).Dominant, "E second");
            Assert.Equal(VisemeId.Sil, s.Evaluate("other", 100).Dominant, "unknown turn");
            Assert.Equal(VisemeId.Sil, s.Evaluate(null, 100).Dominant, "no turn");
            s.DropTurn("t");
            Assert.Equal(VisemeId.Sil, s.Evaluate("t", 100).Dominant, "dropped turn");
        }

        private static void BlendShapeNames()
        {
            for (int i = 0; i < VisemeScheduler.VisemeCount; i++)
            {
                Assert.Equal(i, OvrVisemes.Match(OvrVisemes.BlendShapeName((VisemeId)i)), "round trip " + (VisemeId)i);
            }
            Assert.Equal((int)VisemeId.AA, OvrVisemes.Match("Viseme_AA"), "case");
            Assert.Equal((int)VisemeId.OH, OvrVisemes.Match("Head.VISEME_OH"), "prefix and proto spelling");
            Assert.Equal((int)VisemeId.Sil, OvrVisemes.Match("viseme_sil"), "silence");
            Assert.Equal(-1, OvrVisemes.Match("eyeBlinkLeft"), "not a viseme");
            Assert.Equal(-1, OvrVisemes.Match("viseme_xx"), "unknown viseme");
        }

        private static float Sum(float[] w)
        {
            float s = 0;
            foreach (var x in w) s += x;
            return s;
        }
    }
}
