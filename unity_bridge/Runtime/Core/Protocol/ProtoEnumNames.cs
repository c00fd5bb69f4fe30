using System;
using System.Collections.Generic;
using System.Globalization;

namespace NpcRuntime.Protocol
{
    /// <summary>
    /// Converts protocol enums to and from their proto3 JSON names
    /// (e.g. <see cref="EmotionCategory.Anger"/> ⇄ <c>"EMOTION_CATEGORY_ANGER"</c>).
    /// </summary>
    public static class ProtoEnumNames
    {
        private static readonly Table AudioEncodings = new Table(typeof(AudioEncoding),
            "AUDIO_ENCODING_UNSPECIFIED", "AUDIO_ENCODING_PCM_S16LE");

        private static readonly Table NodeKinds = new Table(typeof(NodeKind),
            "NODE_KIND_UNSPECIFIED", "NODE_KIND_PLACE", "NODE_KIND_OBJECT", "NODE_KIND_NPC",
            "NODE_KIND_PLAYER");

        private static readonly Table RelationKinds = new Table(typeof(RelationKind),
            "RELATION_KIND_UNSPECIFIED", "RELATION_KIND_IN", "RELATION_KIND_ON",
            "RELATION_KIND_HELD_BY", "RELATION_KIND_NEAR", "RELATION_KIND_CONNECTED");

        private static readonly Table ActionStatuses = new Table(typeof(ActionStatus),
            "ACTION_STATUS_UNSPECIFIED", "ACTION_STATUS_SUCCEEDED", "ACTION_STATUS_FAILED",
            "ACTION_STATUS_CANCELLED", "ACTION_STATUS_STARTED");

        private static readonly Table TurnCauses = new Table(typeof(TurnCause),
            "TURN_CAUSE_UNSPECIFIED", "TURN_CAUSE_SPEECH", "TURN_CAUSE_TEXT", "TURN_CAUSE_TRIGGER",
            "TURN_CAUSE_GREETING", "TURN_CAUSE_SCENE");

        private static readonly Table VisemeIds = new Table(typeof(VisemeId),
            "VISEME_SIL", "VISEME_PP", "VISEME_FF", "VISEME_TH", "VISEME_DD", "VISEME_KK",
            "VISEME_CH", "VISEME_SS", "VISEME_NN", "VISEME_RR", "VISEME_AA", "VISEME_E",
            "VISEME_IH", "VISEME_OH", "VISEME_OU");

        private static readonly Table EmotionCategories = new Table(typeof(EmotionCategory),
            "EMOTION_CATEGORY_NEUTRAL", "EMOTION_CATEGORY_JOY", "EMOTION_CATEGORY_SADNESS",
            "EMOTION_CATEGORY_ANGER", "EMOTION_CATEGORY_FEAR", "EMOTION_CATEGORY_SURPRISE",
            "EMOTION_CATEGORY_DISGUST");

        private static readonly Table ErrorCodes = new Table(typeof(ErrorCode),
            new[] { 0, 3, 4, 5, 7, 8, 9, 12, 13, 14, 16 },
            "ERROR_CODE_UNSPECIFIED", "ERROR_CODE_INVALID_ARGUMENT", "ERROR_CODE_DEADLINE_EXCEEDED",
            "ERROR_CODE_NOT_FOUND", "ERROR_CODE_PERMISSION_DENIED", "ERROR_CODE_RESOURCE_EXHAUSTED",
            "ERROR_CODE_FAILED_PRECONDITION", "ERROR_CODE_UNIMPLEMENTED", "ERROR_CODE_INTERNAL",
            "ERROR_CODE_UNAVAILABLE", "ERROR_CODE_UNAUTHENTICATED");

        private static readonly Dictionary<Type, Table> Tables = new Dictionary<Type, Table>
        {
            { typeof(AudioEncoding), AudioEncodings },
            { typeof(NodeKind), NodeKinds },
            { typeof(RelationKind), RelationKinds },
            { typeof(ActionStatus), ActionStatuses },
            { typeof(TurnCause), TurnCauses },
            { typeof(VisemeId), VisemeIds },
            { typeof(EmotionCategory), EmotionCategories },
            { typeof(ErrorCode), ErrorCodes },
        };

        /// <summary>The proto name of <paramref name="value"/>, e.g. <c>"ACTION_STATUS_STARTED"</c>.</summary>
        /// <remarks>A value the table does not know is returned as its number, which proto3 JSON accepts.</remarks>
        public static string ToProtoName<T>(T value) where T : struct
        {
            return TableFor(typeof(T)).Name(Convert.ToInt32(value, CultureInfo.InvariantCulture));
        }

        /// <summary>
        /// Parses a proto3 JSON enum value: its name, or its number (as a JSON number or string).
        /// An unknown name (a newer server) yields the zero value.
        /// </summary>
        public static T Parse<T>(object json) where T : struct
        {
            return (T)Enum.ToObject(typeof(T), TableFor(typeof(T)).Number(json));
        }

        private static Table TableFor(Type type)
        {
            Table table;
            if (!Tables.TryGetValue(type, out table)) throw new ArgumentException(type.Name + " is not a protocol enum");
            return table;
        }

        private sealed class Table
        {
            private readonly Dictionary<int, string> _names = new Dictionary<int, string>();
            private readonly Dictionary<string, int> _numbers = new Dictionary<string, int>(StringComparer.Ordinal);

            public Table(Type type, params string[] names)
                : this(type, Sequence(names.Length), names)
            {
            }

            public Table(Type type, int[] numbers, params string[] names)
            {
                for (int i = 0; i < names.Length; i++)
                {
                    _names[numbers[i]] = names[i];
                    _numbers[names[i]] = numbers[i];
                    if (!Enum.IsDefined(type, numbers[i])) throw new InvalidOperationException(type.Name + " lacks " + numbers[i]);
                }
            }

            public string Name(int number)
            {
                string name;
                return _names.TryGetValue(number, out name) ? name : number.ToString(CultureInfo.InvariantCulture);
            }

            public int Number(object json)
            {
                if (json == null) return 0;
                if (json is double) return (int)(double)json;
                var s = json as string;
                if (s == null) throw new FormatException("an enum must be a name or a number");
                int number;
                if (_numbers.TryGetValue(s, out number)) return number;
                if (int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number)) return number;
                return 0;
            }

            private static int[] Sequence(int n)
            {
                var result = new int[n];
                for (int i = 0; i < n; i++) result[i] = i;
                return result;
            }
        }
    }
}
