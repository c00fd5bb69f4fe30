using System;
using NpcRuntime.Protocol;

namespace NpcRuntime.Actions
{
    /// <summary>The handle a handler uses to finish one command. Only the first outcome counts.</summary>
    public sealed class ActionContext
    {
        private readonly Action<ActionContext, ActionStatus, string> _complete;
        private int _done;

        internal ActionContext(ActionCommand command, Action<ActionContext, ActionStatus, string> complete)
        {
            Command = command;
            _complete = complete;
        }

        /// <summary>The command being carried out.</summary>
        public ActionCommand Command { get; private set; }

        /// <summary>True once an outcome was reported (or the command was cancelled).</summary>
        public bool IsCompleted
        {
            get { return _done != 0; }
        }

        /// <summary>True when the command was cancelled; the handler should stop.</summary>
        public bool IsCancelled { get; private set; }

        /// <summary>The action finished as asked.</summary>
        public void Succeed(string detail = null)
        {
            Complete(ActionStatus.Succeeded, detail);
        }

        /// <summary>The action could not be done; <paramref name="detail"/> tells the NPC why.</summary>
        public void Fail(string detail)
        {
            Complete(ActionStatus.Failed, detail);
        }

        internal bool MarkCancelled()
        {
            if (System.Threading.Interlocked.Exchange(ref _done, 1) != 0) return false;
            IsCancelled = true;
            return true;
        }

        private void Complete(ActionStatus status, string detail)
        {
            if (System.Threading.Interlocked.Exchange(ref _done, 1) != 0) return;
            _complete(this, status, detail);
        }
    }
}
