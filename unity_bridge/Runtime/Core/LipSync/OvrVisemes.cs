using System;
using NpcRuntime.Protocol;

namespace NpcRuntime.LipSync
{
    /// <summary>
    /// The OVR viseme set and the blendshape names avatars commonly use for it
    /// (<c>viseme_sil</c>, <c>viseme_PP</c>, ... as in Oculus LipSync and Ready Player Me rigs).
    /// </summary>
    public static class OvrVisemes
    {
        private static readonly string[] Suffixes = { "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U" };

        // Alternative spellings seen in rigs (the proto names and OVR's own labels).
        private static readonly string[][] Aliases =
        {
            new[] { "sil", "silence", "rest" }, new[] { "pp" }, new[] { "ff" }, new[] { "th" }, new[] { "dd" },
            new[] { "kk" }, new[] { "ch" }, new[] { "ss" }, new[] { "nn" }, new[] { "rr" }, new[] { "aa" },
            new[] { "e" }, new[] { "i", "ih" }, new[] { "o", "oh" }, new[] { "u", "ou" },
        };

        /// <summary>The conventional blendshape name of <paramref name="id"/>, e.g. <c>viseme_aa</c>.</summary>
        public static string BlendShapeName(VisemeId id)
        {
            return "viseme_" + Suffixes[(int)id];
        }

        /// <summary>
        /// The viseme a blendshape name stands for, or -1: accepts <c>viseme_aa</c>,
        /// <c>Viseme_AA</c>, <c>VISEME_OH</c>, <c>mouth.viseme_ih</c> and similar.
        /// </summary>
        public static int Match(string blendShapeName)
        {
            if (string.IsNullOrEmpty(blendShapeName)) return -1;
            string name = blendShapeName.ToLowerInvariant();
            int at = name.LastIndexOf("viseme", StringComparison.Ordinal);
            if (at < 0) return -1;
            string suffix = name.Substring(at + "viseme".Length).TrimStart('_', '-', ' ', '.');
            for (int i = 0; i < Aliases.Length; i++)
            {
                foreach (var alias in Aliases[i])
                {
                    if (suffix == alias) return i;
                }
            }
            return -1;
        }
    }
}
