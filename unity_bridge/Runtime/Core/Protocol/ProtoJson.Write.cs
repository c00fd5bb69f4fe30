using System;
using System.Collections.Generic;
using NpcRuntime.Json;

namespace NpcRuntime.Protocol
{
    /// <summary>
    /// proto3 canonical JSON for the NPC protocol: <see cref="Serialize"/> writes a
    /// <c>ClientEvent</c>, <see cref="ParseServerEvent"/> reads a <c>ServerEvent</c>.
    /// Field names are lowerCamelCase, enums are names, bytes are base64 and fields with
    /// default values are omitted, as <c>google.protobuf.json_format</c> does.
    /// </summary>
    public static partial class ProtoJson
    {
        /// <summary>The JSON text of the <c>ClientEvent</c> wrapping <paramref name="e"/>.</summary>
        /// <example><c>{"textInput":{"text":"Hello"}}</c></example>
        public static string Serialize(ClientEvent e)
        {
            if (e == null) throw new ArgumentNullException("e");
            var w = new JsonWriter();
            w.BeginObject();
            WriteClientEvent(w, e);
            w.EndObject();
            return w.ToString();
        }

        /// <summary>The JSON text of a scene snapshot message on its own.</summary>
        public static string Serialize(SceneSnapshot snapshot)
        {
            var w = new JsonWriter();
            WriteSnapshot(w, snapshot);
            return w.ToString();
        }

        private static void WriteClientEvent(JsonWriter w, ClientEvent e)
        {
            var start = e as SessionStart;
            if (start != null)
            {
                w.Name("sessionStart");
                WriteSessionStart(w, start);
                return;
            }
            var chunk = e as AudioChunk;
            if (chunk != null)
            {
                w.Name("audioChunk").BeginObject();
                Bytes(w, "pcm", chunk.Pcm);
                w.EndObject();
                return;
            }
            if (e is AudioEnd)
            {
                w.Name("audioEnd").BeginObject().EndObject();
                return;
            }
            var text = e as TextInput;
            if (text != null)
            {
                w.Name("textInput").BeginObject();
                Str(w, "text", text.Text);
                w.EndObject();
                return;
            }
            var trigger = e as Trigger;
            if (trigger != null)
            {
                w.Name("trigger").BeginObject();
                Str(w, "name", trigger.Name);
                Map(w, "parameters", trigger.Parameters);
                Bool(w, "react", trigger.React);
                Str(w, "sourceId", trigger.SourceId);
                w.EndObject();
                return;
            }
            var update = e as SceneUpdate;
            if (update != null)
            {
                w.Name("sceneUpdate");
                WriteSceneUpdate(w, update);
                return;
            }
            var result = e as ActionResult;
            if (result != null)
            {
                w.Name("actionResult").BeginObject();
                Str(w, "commandId", result.CommandId);
                Enum(w, "status", result.Status);
                Str(w, "detail", result.Detail);
                w.EndObject();
                return;
            }
            var progress = e as PlaybackProgress;
            if (progress != null)
            {
                w.Name("playbackProgress").BeginObject();
                Str(w, "turnId", progress.TurnId);
                UInt(w, "playedMs", progress.PlayedMs);
                Bool(w, "finished", progress.Finished);
                w.EndObject();
                return;
            }
            var interrupt = e as Interrupt;
            if (interrupt != null)
            {
                w.Name("interrupt").BeginObject();
                Str(w, "turnId", interrupt.TurnId);
                w.EndObject();
                return;
            }
            var time = e as GameTime;
            if (time != null)
            {
                w.Name("gameTime").BeginObject();
                Double(w, "hours", time.Hours);
                w.EndObject();
                return;
            }
            throw new ArgumentException("not a protocol client event: " + e.GetType().Name);
        }

        private static void WriteSessionStart(JsonWriter w, SessionStart s)
        {
            w.BeginObject();
            Str(w, "characterId", s.CharacterId);
            Str(w, "playerId", s.PlayerId);
            Format(w, "inputAudio", s.InputAudio);
            Format(w, "outputAudio", s.OutputAudio);
            Bool(w, "visemes", s.Visemes);
            Str(w, "language", s.Language);
            if (s.Scene != null)
            {
                w.Name("scene");
                WriteSnapshot(w, s.Scene);
            }
            Str(w, "resumeSessionId", s.ResumeSessionId);
            if (s.Endpointing != null)
            {
                w.Name("endpointing").BeginObject();
                UInt(w, "endOfSpeechSilenceMs", s.Endpointing.EndOfSpeechSilenceMs);
                Bool(w, "pushToTalkOnly", s.Endpointing.PushToTalkOnly);
                w.EndObject();
            }
            Bool(w, "greet", s.Greet);
            Map(w, "metadata", s.Metadata);
            Bool(w, "textOnly", s.TextOnly);
            Bool(w, "unpacedAudio", s.UnpacedAudio);
            Double(w, "gameTimeHours", s.GameTimeHours);
            w.EndObject();
        }

        private static void WriteSceneUpdate(JsonWriter w, SceneUpdate u)
        {
            w.BeginObject();
            Str(w, "worldId", u.WorldId);
            if (u.UpsertNodes != null && u.UpsertNodes.Count > 0)
            {
                w.Name("upsertNodes").BeginArray();
                foreach (var n in u.UpsertNodes) WriteNode(w, n);
                w.EndArray();
            }
            if (u.RemoveNodeIds != null && u.RemoveNodeIds.Count > 0)
            {
                w.Name("removeNodeIds").BeginArray();
                foreach (var id in u.RemoveNodeIds) w.Value(id);
                w.EndArray();
            }
            Relations(w, "addRelations", u.AddRelations);
            Relations(w, "removeRelations", u.RemoveRelations);
            if (u.Replace != null)
            {
                w.Name("replace");
                WriteSnapshot(w, u.Replace);
            }
            w.EndObject();
        }

        private static void WriteSnapshot(JsonWriter w, SceneSnapshot s)
        {
            w.BeginObject();
            Str(w, "worldId", s.WorldId);
            if (s.Nodes != null && s.Nodes.Count > 0)
            {
                w.Name("nodes").BeginArray();
                foreach (var n in s.Nodes) WriteNode(w, n);
                w.EndArray();
            }
            Relations(w, "relations", s.Relations);
            w.EndObject();
        }

        private static void WriteNode(JsonWriter w, SceneNode n)
        {
            w.BeginObject();
            Str(w, "id", n.Id);
            Enum(w, "kind", n.Kind);
            Str(w, "name", n.Name);
            Str(w, "description", n.Description);
            Str(w, "type", n.Type);
            Map(w, "state", n.State);
            Bool(w, "portable", n.Portable);
            Bool(w, "container", n.Container);
            Bool(w, "hidden", n.Hidden);
            if (n.Position.HasValue)
            {
                Vec3 p = n.Position.Value;
                w.Name("position").BeginObject();
                Float(w, "x", p.X);
                Float(w, "y", p.Y);
                Float(w, "z", p.Z);
                w.EndObject();
            }
            w.EndObject();
        }

        private static void Relations(JsonWriter w, string name, List<SceneRelation> relations)
        {
            if (relations == null || relations.Count == 0) return;
            w.Name(name).BeginArray();
            foreach (var r in relations)
            {
                w.BeginObject();
                Str(w, "subjectId", r.SubjectId);
                Enum(w, "kind", r.Kind);
                Str(w, "objectId", r.ObjectId);
                Float(w, "distance", r.Distance);
                w.EndObject();
            }
            w.EndArray();
        }

        private static void Format(JsonWriter w, string name, AudioFormat f)
        {
            if (f == null) return;
            w.Name(name).BeginObject();
            UInt(w, "sampleRateHz", f.SampleRateHz);
            UInt(w, "channels", f.Channels);
            Enum(w, "encoding", f.Encoding);
            w.EndObject();
        }

        // Field writers: each omits the proto3 default value, as canonical JSON does.

        private static void Str(JsonWriter w, string name, string value)
        {
            if (!string.IsNullOrEmpty(value)) w.Name(name).Value(value);
        }

        private static void Bool(JsonWriter w, string name, bool value)
        {
            if (value) w.Name(name).Value(true);
        }

        private static void UInt(JsonWriter w, string name, uint value)
        {
            if (value != 0) w.Name(name).Value(value);
        }

        private static void Double(JsonWriter w, string name, double value)
        {
            if (value != 0) w.Name(name).Value(value);
        }

        private static void Float(JsonWriter w, string name, float value)
        {
            if (value != 0) w.Name(name).Value(value);
        }

        private static void Enum<T>(JsonWriter w, string name, T value) where T : struct
        {
            if (Convert.ToInt32(value) != 0) w.Name(name).Value(ProtoEnumNames.ToProtoName(value));
        }

        private static void Bytes(JsonWriter w, string name, byte[] value)
        {
            if (value != null && value.Length > 0) w.Name(name).Value(Convert.ToBase64String(value));
        }

        private static void Map(JsonWriter w, string name, Dictionary<string, string> map)
        {
            if (map == null || map.Count == 0) return;
            w.Name(name).BeginObject();
            foreach (var kv in map) w.Name(kv.Key).Value(kv.Value ?? "");
            w.EndObject();
        }
    }
}
