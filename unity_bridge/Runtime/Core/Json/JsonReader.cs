using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace NpcRuntime.Json
{
    /// <summary>
    /// A small, strict JSON parser (RFC 8259). Objects become
    /// <see cref="Dictionary{TKey,TValue}"/> of string to object, arrays become
    /// <see cref="List{T}"/> of object, numbers <see cref="double"/>, and
    /// <c>true</c>/<c>false</c>/<c>null</c> become <see cref="bool"/> and <c>null</c>.
    /// </summary>
    public sealed class JsonReader
    {
        private const int MaxDepth = 64;

        private readonly string _text;
        private int _pos;
        private int _depth;

        private JsonReader(string text)
        {
            _text = text;
        }

        /// <summary>Parses one JSON value; the whole text must be that value (whitespace aside).</summary>
        /// <exception cref="FormatException">The text is not valid JSON.</exception>
        public static object Parse(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            var reader = new JsonReader(text);
            reader.SkipWhitespace();
            object value = reader.ReadValue();
            reader.SkipWhitespace();
            if (reader._pos != text.Length) throw reader.Error("unexpected text after the value");
            return value;
        }

        private object ReadValue()
        {
            if (_pos >= _text.Length) throw Error("unexpected end of input");
            char c = _text[_pos];
            switch (c)
            {
                case '{': return ReadObject();
                case '[': return ReadArray();
                case '"': return ReadString();
                case 't': ExpectWord("true"); return true;
                case 'f': ExpectWord("false"); return false;
                case 'n': ExpectWord("null"); return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                    throw Error("unexpected character '" + c + "'");
            }
        }

        private Dictionary<string, object> ReadObject()
        {
            Enter();
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            _pos++; // {
            SkipWhitespace();
            if (Peek() == '}')
            {
                _pos++;
                _depth--;
                return result;
            }
            while (true)
            {
                SkipWhitespace();
                if (Peek() != '"') throw Error("expected a member name");
                string name = ReadString();
                SkipWhitespace();
                Expect(':');
                SkipWhitespace();
                result[name] = ReadValue();
                SkipWhitespace();
                char c = Next();
                if (c == '}') break;
                if (c != ',') throw Error("expected ',' or '}'", -1);
            }
            _depth--;
            return result;
        }

        private List<object> ReadArray()
        {
            Enter();
            var result = new List<object>();
            _pos++; // [
            SkipWhitespace();
            if (Peek() == ']')
            {
                _pos++;
                _depth--;
                return result;
            }
            while (true)
            {
                SkipWhitespace();
                result.Add(ReadValue());
                SkipWhitespace();
                char c = Next();
                if (c == ']') break;
                if (c != ',') throw Error("expected ',' or ']'", -1);
            }
            _depth--;
            return result;
        }

        private string ReadString()
        {
            _pos++; // opening quote
            StringBuilder sb = null;
            int runStart = _pos;
            while (true)
            {
                if (_pos >= _text.Length) throw Error("unterminated string");
                char c = _text[_pos];
                if (c == '"')
                {
                    string run = _text.Substring(runStart, _pos - runStart);
                    _pos++;
                    return sb == null ? run : sb.Append(run).ToString();
                }
                if (c < ' ') throw Error("control character in string");
                if (c != '\\')
                {
                    _pos++;
                    continue;
                }
                if (sb == null) sb = new StringBuilder();
                sb.Append(_text, runStart, _pos - runStart);
                _pos++;
                char e = Next();
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u': sb.Append(ReadHex4()); break;
                    default: throw Error("bad escape '\\" + e + "'", -1);
                }
                runStart = _pos;
            }
        }

        private char ReadHex4()
        {
            if (_pos + 4 > _text.Length) throw Error("truncated \\u escape");
            int code;
            if (!int.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier,
                    CultureInfo.InvariantCulture, out code))
            {
                throw Error("bad \\u escape");
            }
            _pos += 4;
            return (char)code;
        }

        private double ReadNumber()
        {
            int start = _pos;
            if (Peek() == '-') _pos++;
            if (Peek() == '0')
            {
                _pos++;
            }
            else if (IsDigit(Peek()))
            {
                while (IsDigit(Peek())) _pos++;
            }
            else
            {
                throw Error("bad number");
            }
            if (Peek() == '.')
            {
                _pos++;
                if (!IsDigit(Peek())) throw Error("bad number");
                while (IsDigit(Peek())) _pos++;
            }
            if (Peek() == 'e' || Peek() == 'E')
            {
                _pos++;
                if (Peek() == '+' || Peek() == '-') _pos++;
                if (!IsDigit(Peek())) throw Error("bad number");
                while (IsDigit(Peek())) _pos++;
            }
            return double.Parse(_text.Substring(start, _pos - start), NumberStyles.Float,
                CultureInfo.InvariantCulture);
        }

        private void Enter()
        {
            if (++_depth > MaxDepth) throw Error("nesting deeper than " + MaxDepth);
        }

        private void ExpectWord(string word)
        {
            if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) throw Error("bad literal");
            _pos += word.Length;
        }

        private void Expect(char c)
        {
            if (Next() != c) throw Error("expected '" + c + "'", -1);
        }

        private char Peek()
        {
            return _pos < _text.Length ? _text[_pos] : '\0';
        }

        private char Next()
        {
            if (_pos >= _text.Length) throw Error("unexpected end of input");
            return _text[_pos++];
        }

        private void SkipWhitespace()
        {
            while (_pos < _text.Length)
            {
                char c = _text[_pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                _pos++;
            }
        }

        private static bool IsDigit(char c)
        {
            return c >= '0' && c <= '9';
        }

        private FormatException Error(string what, int adjust = 0)
        {
            return new FormatException("JSON: " + what + " at offset " + Math.Max(0, _pos + adjust));
        }
    }
}
