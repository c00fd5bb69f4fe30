using System;
using NpcRuntime.Protocol;

namespace NpcRuntime
{
    public sealed partial class NpcSession
    {
        /// <summary>Every server event, before its typed event.</summary>
        public event Action<ServerEvent> EventReceived;

        /// <summary>The session is open.</summary>
        public event Action<SessionReady> SessionReadyReceived;

        /// <summary>The player started speaking (barge-in: stop the NPC's voice now).</summary>
        public event Action<SpeechStarted> SpeechStartedReceived;

        /// <summary>What the player said.</summary>
        public event Action<UserTranscript> TranscriptReceived;

        /// <summary>An NPC turn began.</summary>
        public event Action<TurnStarted> TurnStartedReceived;

        /// <summary>A piece of the NPC's line.</summary>
        public event Action<NpcText> TextReceived;

        /// <summary>A chunk of the NPC's voice (feed it to an <see cref="Audio.AudioJitterBuffer"/>).</summary>
        public event Action<NpcAudio> AudioReceived;

        /// <summary>The NPC's feeling changed.</summary>
        public event Action<Emotion> EmotionReceived;

        /// <summary>The NPC wants to act (feed it to an <see cref="Actions.ActionQueue"/>).</summary>
        public event Action<ActionCommand> ActionCommandReceived;

        /// <summary>A turn ended.</summary>
        public event Action<TurnEnd> TurnEndReceived;

        /// <summary>The server reported an error (see <see cref="Error.SessionAlive"/>).</summary>
        public event Action<Error> ErrorReceived;

        /// <summary>A listener threw; the session goes on.</summary>
        public event Action<Exception> ListenerFailed;

        /// <summary>The session ended (raised once, after the last event).</summary>
        public event Action<SessionClosedInfo> Closed;

        private void Dispatch(ServerEvent e)
        {
            Raise(EventReceived, e);
            var ready = e as SessionReady;
            if (ready != null)
            {
                Raise(SessionReadyReceived, ready);
                return;
            }
            var speech = e as SpeechStarted;
            if (speech != null)
            {
                Raise(SpeechStartedReceived, speech);
                return;
            }
            var transcript = e as UserTranscript;
            if (transcript != null)
            {
                Raise(TranscriptReceived, transcript);
                return;
            }
            var started = e as TurnStarted;
            if (started != null)
            {
                Raise(TurnStartedReceived, started);
                return;
            }
            var text = e as NpcText;
            if (text != null)
            {
                Raise(TextReceived, text);
                return;
            }
            var audio = e as NpcAudio;
            if (audio != null)
            {
                Raise(AudioReceived, audio);
                return;
            }
            var emotion = e as Emotion;
            if (emotion != null)
            {
                Raise(EmotionReceived, emotion);
                return;
            }
            var command = e as ActionCommand;
            if (command != null)
            {
                Raise(ActionCommandReceived, command);
                return;
            }
            var end = e as TurnEnd;
            if (end != null)
            {
                Raise(TurnEndReceived, end);
                return;
            }
            var error = e as Error;
            if (error != null) Raise(ErrorReceived, error);
        }

        private void RaiseClosed(SessionClosedInfo info)
        {
            Raise(Closed, info);
        }

        private void Raise<T>(Action<T> handlers, T value)
        {
            if (handlers == null) return;
            foreach (Action<T> handler in handlers.GetInvocationList())
            {
                try
                {
                    handler(value);
                }
                catch (Exception ex)
                {
                    var failed = ListenerFailed;
                    if (failed != null && !ReferenceEquals(handlers, failed)) failed(ex);
                }
            }
        }
    }
}
