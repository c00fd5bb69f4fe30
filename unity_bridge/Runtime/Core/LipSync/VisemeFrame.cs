using NpcRuntime.Protocol;

namespace NpcRuntime.LipSync
{
    /// <summary>
    /// The mouth at one instant: the viseme fading in and the one fading out. The two weights
    /// already include the cross-fade, so a driver can apply them directly.
    /// </summary>
    public struct VisemeFrame
    {
        /// <summary>The viseme fading in (or fully on).</summary>
        public VisemeId Current;

        /// <summary>Weight of <see cref="Current"/>, 0..1.</summary>
        public float CurrentWeight;

        /// <summary>The viseme fading out.</summary>
        public VisemeId Previous;

        /// <summary>Weight of <see cref="Previous"/>, 0..1.</summary>
        public float PreviousWeight;

        /// <summary>The stronger of the two visemes.</summary>
        public VisemeId Dominant
        {
            get { return CurrentWeight >= PreviousWeight ? Current : Previous; }
        }

        /// <summary>Weight of <paramref name="id"/> in this frame (sums both slots).</summary>
        public float WeightOf(VisemeId id)
        {
            float w = 0;
            if (Current == id) w += CurrentWeight;
            if (Previous == id) w += PreviousWeight;
            return w;
        }

        /// <summary>Mouth at rest.</summary>
        public static VisemeFrame Silence
        {
            get { return new VisemeFrame { Current = VisemeId.Sil, CurrentWeight = 1f, Previous = VisemeId.Sil }; }
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return Current + ":" + CurrentWeight.ToString("0.00") + " / " + Previous + ":" + PreviousWeight.ToString("0.00");
        }
    }
}
