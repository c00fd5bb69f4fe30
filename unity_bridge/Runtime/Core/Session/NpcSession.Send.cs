using System.Collections.Generic;
using System.Threading.Tasks;
using NpcRuntime.Protocol;

namespace NpcRuntime
{
    // Shorthands for each client event; all go through the ordered send queue.
    public sealed partial class NpcSession
    {
        /// <summary>Sends microphone PCM (s16le, the session's input format).</summary>
        public Task SendAudioAsync(byte[] pcm)
        {
            return SendAsync(new AudioChunk { Pcm = pcm });
        }

        /// <summary>Ends the utterance now (push-to-talk released).</summary>
        public Task SendAudioEndAsync()
        {
            return SendAsync(new AudioEnd());
        }

        /// <summary>Sends typed input.</summary>
        public Task SendTextAsync(string text)
        {
            return SendAsync(new TextInput { Text = text });
        }

        /// <summary>Sends a game event; with <paramref name="react"/> the NPC answers it.</summary>
        public Task SendTriggerAsync(string name, IDictionary<string, string> parameters = null, bool react = false, string sourceId = null)
        {
            var trigger = new Trigger { Name = name, React = react, SourceId = sourceId };
            if (parameters != null)
            {
                foreach (var kv in parameters) trigger.Parameters[kv.Key] = kv.Value;
            }
            return SendAsync(trigger);
        }

        /// <summary>Sends a scene delta (see <see cref="Scene.SceneTracker"/>).</summary>
        public Task SendSceneUpdateAsync(SceneUpdate update)
        {
            return SendAsync(update);
        }

        /// <summary>Reports progress of an <see cref="ActionCommand"/>.</summary>
        public Task SendActionResultAsync(string commandId, ActionStatus status, string detail = null)
        {
            return SendAsync(new ActionResult { CommandId = commandId, Status = status, Detail = detail });
        }

        /// <summary>Reports how much of a turn's audio was played.</summary>
        public Task SendPlaybackProgressAsync(string turnId, uint playedMs, bool finished)
        {
            return SendAsync(new PlaybackProgress { TurnId = turnId, PlayedMs = playedMs, Finished = finished });
        }

        /// <summary>Stops the NPC's turn (<paramref name="turnId"/> null = whatever runs).</summary>
        public Task InterruptAsync(string turnId = null)
        {
            return SendAsync(new Interrupt { TurnId = turnId });
        }

        /// <summary>Tells the server the game clock moved.</summary>
        public Task SendGameTimeAsync(double hours)
        {
            return SendAsync(new GameTime { Hours = hours });
        }
    }
}
