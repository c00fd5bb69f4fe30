using System;
using System.Collections.Generic;
using System.Globalization;

namespace NpcRuntime.Protocol
{
    /// <summary>
    /// Typed, lenient access to one parsed proto3 JSON object: each getter accepts the
    /// lowerCamelCase name (canonical) or the original proto field name, numbers written as
    /// JSON numbers or strings, and returns the proto default when the field is absent or null.
    /// </summary>
    internal struct JsonFields
    {
        private readonly Dictionary<string, object> _map;

        public JsonFields(Dictionary<string, object> map)
        {
            _map = map ?? new Dictionary<string, object>();
        }

        public static JsonFields From(object json, string what)
        {
            if (json == null) return new JsonFields(null);
            var map = json as Dictionary<string, object>;
            if (map == null) throw new FormatException(what + " must be a JSON object");
            return new JsonFields(map);
        }

        public object Raw(string camel, string snake)
        {
            object value;
            if (_map.TryGetValue(camel, out value)) return value;
            if (snake != null && _map.TryGetValue(snake, out value)) return value;
            return null;
        }

        public bool Has(string camel, string snake)
        {
            return Raw(camel, snake) != null;
        }

        public string String(string camel, string snake = null)
        {
            object v = Raw(camel, snake);
            if (v == null) return "";
            var s = v as string;
            if (s == null) throw new FormatException(camel + " must be a string");
            return s;
        }

        public bool Bool(string camel, string snake = null)
        {
            object v = Raw(camel, snake);
            if (v == null) return false;
            if (!(v is bool)) throw new FormatException(camel + " must be true or false");
            return (bool)v;
        }

        public double Double(string camel, string snake = null)
        {
            object v = Raw(camel, snake);
            if (v == null) return 0;
            if (v is double) return (double)v;
            var s = v as string;
            if (s == "NaN") return double.NaN;
            if (s == "Infinity") return double.PositiveInfinity;
            if (s == "-Infinity") return double.NegativeInfinity;
            double d;
            if (s != null && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
            throw new FormatException(camel + " must be a number");
        }

        public float Float(string camel, string snake = null)
        {
            return (float)Double(camel, snake);
        }

        public uint UInt(string camel, string snake = null)
        {
            double d = Double(camel, snake);
            if (d < 0 || d > uint.MaxValue || Math.Floor(d) != d) throw new FormatException(camel + " must be a uint32");
            return (uint)d;
        }

        public T Enum<T>(string camel, string snake = null) where T : struct
        {
            return ProtoEnumNames.Parse<T>(Raw(camel, snake));
        }

        public byte[] Bytes(string camel, string snake = null)
        {
            object v = Raw(camel, snake);
            if (v == null) return new byte[0];
            var s = v as string;
            if (s == null) throw new FormatException(camel + " must be base64 text");
            return DecodeBase64(s);
        }

        public JsonFields Object(string camel, string snake = null)
        {
            return From(Raw(camel, snake), camel);
        }

        public List<object> Array(string camel, string snake = null)
        {
            object v = Raw(camel, snake);
            if (v == null) return new List<object>();
            var list = v as List<object>;
            if (list == null) throw new FormatException(camel + " must be an array");
            return list;
        }

        public Dictionary<string, string> StringMap(string camel, string snake = null)
        {
            var result = new Dictionary<string, string>();
            object v = Raw(camel, snake);
            if (v == null) return result;
            var map = v as Dictionary<string, object>;
            if (map == null) throw new FormatException(camel + " must be an object");
            foreach (var kv in map)
            {
                var s = kv.Value as string;
                if (s == null) throw new FormatException(camel + "." + kv.Key + " must be a string");
                result[kv.Key] = s;
            }
            return result;
        }

        /// <summary>Standard or URL-safe base64, with or without padding (all valid in proto3 JSON).</summary>
        public static byte[] DecodeBase64(string s)
        {
            string t = s.Replace('-', '+').Replace('_', '/');
            switch (t.Length % 4)
            {
                case 2: t += "=="; break;
                case 3: t += "="; break;
            }
            return Convert.FromBase64String(t);
        }
    }
}
