using NpcRuntime.Actions;
using NpcRuntime.Protocol;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// Base class for a component that carries out one verb. Put it on the NPC (or a child);
    /// <see cref="ActionExecutor"/> registers it. Override <see cref="Begin"/>, then call
    /// <see cref="Succeed"/> or <see cref="Fail"/> once — at once or from a later Update.
    /// </summary>
    public abstract class NpcActionHandler : MonoBehaviour, IActionHandler
    {
        private ActionContext _context;

        /// <summary>The verb handled, e.g. "move_to".</summary>
        public abstract string Verb { get; }

        /// <summary>The command running, or null.</summary>
        protected ActionCommand Command { get; private set; }

        /// <summary>True while a command runs.</summary>
        protected bool IsRunning
        {
            get { return _context != null && !_context.IsCompleted; }
        }

        /// <summary>Resolves scene node ids to GameObjects (set by <see cref="ActionExecutor"/>).</summary>
        public SceneReporter Scene { get; set; }

        void IActionHandler.Execute(ActionCommand command, ActionContext context)
        {
            Command = command;
            _context = context;
            Begin(command);
        }

        void IActionHandler.Cancel(ActionCommand command)
        {
            _context = null;
            Stop(command);
            Command = null;
        }

        /// <summary>Starts the command.</summary>
        protected abstract void Begin(ActionCommand command);

        /// <summary>Stops a running command (barge-in, plan cancelled). No result needs reporting.</summary>
        protected virtual void Stop(ActionCommand command)
        {
        }

        /// <summary>The command finished.</summary>
        protected void Succeed(string detail = null)
        {
            var context = _context;
            _context = null;
            Command = null;
            if (context != null) context.Succeed(detail);
        }

        /// <summary>The command could not be done; the NPC hears <paramref name="detail"/>.</summary>
        protected void Fail(string detail)
        {
            var context = _context;
            _context = null;
            Command = null;
            if (context != null) context.Fail(detail);
        }

        /// <summary>The command's target GameObject, or null (after failing the command) when it is unknown.</summary>
        protected GameObject RequireTarget(ActionCommand command)
        {
            var target = Scene == null ? null : Scene.Find(command.TargetId);
            if (target == null) Fail("there is no scene object '" + command.TargetId + "' here");
            return target;
        }
    }
}
