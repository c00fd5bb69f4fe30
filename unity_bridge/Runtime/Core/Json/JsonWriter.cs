using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace NpcRuntime.Json
{
    /// <summary>
    /// A forward-only writer of compact JSON text. Commas are inserted automatically;
    /// the caller only has to balance <c>Begin*</c>/<c>End*</c> calls.
    /// </summary>
    public sealed class JsonWriter
    {
        private readonly StringBuilder _sb = new StringBuilder(256);
        // One entry per open container: true until its first element is written.
        private readonly Stack<bool> _first = new Stack<bool>();
        private bool _afterName;

        /// <summary>Starts an object (<c>{</c>).</summary>
        public JsonWriter BeginObject()
        {
            BeforeValue();
            _sb.Append('{');
            _first.Push(true);
            return this;
        }

        /// <summary>Ends the current object (<c>}</c>).</summary>
        public JsonWriter EndObject()
        {
            _first.Pop();
            _sb.Append('}');
            return this;
        }

        /// <summary>Starts an array (<c>[</c>).</summary>
        public JsonWriter BeginArray()
        {
            BeforeValue();
            _sb.Append('[');
            _first.Push(true);
            return this;
        }

        /// <summary>Ends the current array (<c>]</c>).</summary>
        public JsonWriter EndArray()
        {
            _first.Pop();
            _sb.Append(']');
            return this;
        }

        /// <summary>Writes a member name; the next call writes its value.</summary>
        public JsonWriter Name(string name)
        {
            BeforeValue();
            AppendQuoted(_sb, name);
            _sb.Append(':');
            _afterName = true;
            return this;
        }

        /// <summary>Writes a string value (or <c>null</c>).</summary>
        public JsonWriter Value(string value)
        {
            BeforeValue();
            if (value == null) _sb.Append("null");
            else AppendQuoted(_sb, value);
            return this;
        }

        /// <summary>Writes a boolean value.</summary>
        public JsonWriter Value(bool value)
        {
            BeforeValue();
            _sb.Append(value ? "true" : "false");
            return this;
        }

        /// <summary>Writes an unsigned integer value.</summary>
        public JsonWriter Value(uint value)
        {
            BeforeValue();
            _sb.Append(value.ToString(CultureInfo.InvariantCulture));
            return this;
        }

        /// <summary>
        /// Writes a number. Non-finite values are written as the strings proto3 JSON uses
        /// (<c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>).
        /// </summary>
        public JsonWriter Value(double value)
        {
            BeforeValue();
            if (double.IsNaN(value)) _sb.Append("\"NaN\"");
            else if (double.IsPositiveInfinity(value)) _sb.Append("\"Infinity\"");
            else if (double.IsNegativeInfinity(value)) _sb.Append("\"-Infinity\"");
            else _sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
            return this;
        }

        /// <summary>Writes a single-precision number with the shortest round-tripping text.</summary>
        public JsonWriter Value(float value)
        {
            if (float.IsNaN(value) || float.IsInfinity(value)) return Value((double)value);
            BeforeValue();
            _sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
            return this;
        }

        /// <summary>
        /// Writes any value of the shape <see cref="JsonReader.Parse"/> returns: dictionaries,
        /// lists, strings, numbers, booleans and <c>null</c>.
        /// </summary>
        public JsonWriter Any(object value)
        {
            if (value == null) return Value((string)null);
            var s = value as string;
            if (s != null) return Value(s);
            if (value is bool) return Value((bool)value);
            if (value is double) return Value((double)value);
            if (value is float) return Value((float)value);
            if (value is int || value is uint || value is long)
            {
                return Value(Convert.ToDouble(value, CultureInfo.InvariantCulture));
            }
            var map = value as IDictionary<string, object>;
            if (map != null)
            {
                BeginObject();
                foreach (var kv in map) Name(kv.Key).Any(kv.Value);
                return EndObject();
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                BeginArray();
                foreach (object item in list) Any(item);
                return EndArray();
            }
            throw new ArgumentException("cannot write a " + value.GetType().Name + " as JSON");
        }

        /// <summary>The JSON text written so far.</summary>
        public override string ToString()
        {
            return _sb.ToString();
        }

        /// <summary>Appends <paramref name="s"/> as a quoted, escaped JSON string.</summary>
        public static void AppendQuoted(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < ' ' || c == '\u2028' || c == '\u2029')
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(c);
                        }
                        break;
                }
            }
            sb.Append('"');
        }

        private void BeforeValue()
        {
            if (_afterName)
            {
                _afterName = false;
                return;
            }
            if (_first.Count == 0) return;
            if (_first.Peek())
            {
                _first.Pop();
                _first.Push(false);
            }
            else
            {
                _sb.Append(',');
            }
        }
    }
}
