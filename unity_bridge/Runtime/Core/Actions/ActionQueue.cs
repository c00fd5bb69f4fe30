using System;
using System.Collections.Generic;
using NpcRuntime.Protocol;

namespace NpcRuntime.Actions
{
    /// <summary>
    /// Runs the NPC's <see cref="ActionCommand"/>s one at a time (one body, one action) through
    /// handlers registered by verb, and reports every step as an <see cref="ActionResult"/>:
    /// <see cref="ActionStatus.Started"/>, then <see cref="ActionStatus.Succeeded"/>,
    /// <see cref="ActionStatus.Failed"/> or <see cref="ActionStatus.Cancelled"/>.
    /// <list type="bullet">
    /// <item>Steps of one plan run in <c>step_index</c> order; when a step fails, the plan's
    /// remaining steps are cancelled.</item>
    /// <item>A verb with no handler fails at once, with a detail the NPC can use.</item>
    /// <item><see cref="CancelTurn"/> cancels a turn's commands (barge-in).</item>
    /// </list>
    /// Thread-safe; results are reported on the thread that caused them.
    /// </summary>
    public sealed class ActionQueue
    {
        private readonly object _gate = new object();
        private readonly Dictionary<string, IActionHandler> _handlers = new Dictionary<string, IActionHandler>(StringComparer.Ordinal);
        private readonly List<ActionCommand> _pending = new List<ActionCommand>();
        private readonly Action<ActionResult> _report;
        private ActionContext _running;
        private IActionHandler _runningHandler;
        private bool _pumping;

        /// <summary>Creates a queue that sends results through <paramref name="report"/> (e.g. <c>session.Post</c>).</summary>
        public ActionQueue(Action<ActionResult> report)
        {
            if (report == null) throw new ArgumentNullException("report");
            _report = report;
        }

        /// <summary>Raised after each result is reported, for game code that wants to observe.</summary>
        public event Action<ActionCommand, ActionResult> ResultReported;

        /// <summary>The command running now, or null.</summary>
        public ActionCommand Running
        {
            get
            {
                lock (_gate) return _running == null ? null : _running.Command;
            }
        }

        /// <summary>Commands waiting to run.</summary>
        public int PendingCount
        {
            get
            {
                lock (_gate) return _pending.Count;
            }
        }

        /// <summary>The verbs that have handlers.</summary>
        public IList<string> Verbs
        {
            get
            {
                lock (_gate) return new List<string>(_handlers.Keys);
            }
        }

        /// <summary>Registers (or replaces) the handler for <paramref name="verb"/>.</summary>
        public void Register(string verb, IActionHandler handler)
        {
            if (string.IsNullOrEmpty(verb)) throw new ArgumentException("verb");
            if (handler == null) throw new ArgumentNullException("handler");
            lock (_gate) _handlers[verb] = handler;
        }

        /// <summary>Registers a handler made of delegates.</summary>
        public void Register(string verb, Action<ActionCommand, ActionContext> execute, Action<ActionCommand> cancel = null)
        {
            Register(verb, new DelegateActionHandler(execute, cancel));
        }

        /// <summary>Removes the handler for <paramref name="verb"/>.</summary>
        public bool Unregister(string verb)
        {
            lock (_gate) return _handlers.Remove(verb);
        }

        /// <summary>Queues a command; it starts at once when nothing else is running.</summary>
        public void Enqueue(ActionCommand command)
        {
            if (command == null) throw new ArgumentNullException("command");
            lock (_gate)
            {
                int at = _pending.Count;
                if (!string.IsNullOrEmpty(command.PlanId))
                {
                    // Keep a plan's steps in step order, wherever they arrive.
                    while (at > 0 && _pending[at - 1].PlanId == command.PlanId && _pending[at - 1].StepIndex > command.StepIndex) at--;
                }
                _pending.Insert(at, command);
            }
            Pump();
        }

        /// <summary>Cancels the running and pending commands of a turn.</summary>
        public void CancelTurn(string turnId, string reason = "the turn was interrupted")
        {
            Cancel(c => c.TurnId == turnId, reason);
        }

        /// <summary>Cancels the running command and everything pending.</summary>
        public void CancelAll(string reason = "cancelled by the game")
        {
            Cancel(c => true, reason);
        }

        private void Cancel(Predicate<ActionCommand> match, string reason)
        {
            var cancelled = new List<ActionCommand>();
            ActionCommand stopped = null;
            IActionHandler stoppedHandler = null;
            lock (_gate)
            {
                for (int i = _pending.Count - 1; i >= 0; i--)
                {
                    if (!match(_pending[i])) continue;
                    cancelled.Insert(0, _pending[i]);
                    _pending.RemoveAt(i);
                }
                if (_running != null && match(_running.Command) && _running.MarkCancelled())
                {
                    stopped = _running.Command;
                    stoppedHandler = _runningHandler;
                    _running = null;
                    _runningHandler = null;
                }
            }
            if (stopped != null)
            {
                try
                {
                    stoppedHandler.Cancel(stopped);
                }
                finally
                {
                    Report(stopped, ActionStatus.Cancelled, reason);
                }
            }
            foreach (var c in cancelled) Report(c, ActionStatus.Cancelled, reason);
            Pump();
        }

        // Starts pending commands while nothing runs. Re-entrant calls (a handler finishing
        // synchronously) return at once; the outer loop picks up the next command.
        private void Pump()
        {
            lock (_gate)
            {
                if (_pumping) return;
                _pumping = true;
            }
            try
            {
                while (true)
                {
                    ActionContext context = null;
                    IActionHandler handler;
                    ActionCommand unhandled = null;
                    lock (_gate)
                    {
                        if (_running != null || _pending.Count == 0) return;
                        var command = _pending[0];
                        _pending.RemoveAt(0);
                        if (_handlers.TryGetValue(command.Verb ?? "", out handler))
                        {
                            context = new ActionContext(command, OnCompleted);
                            _running = context;
                            _runningHandler = handler;
                        }
                        else
                        {
                            unhandled = command;
                        }
                    }
                    if (unhandled != null)
                    {
                        Report(unhandled, ActionStatus.Failed, "this character's game client has no handler for the verb '" + unhandled.Verb + "'");
                        FailRestOfPlan(unhandled);
                        continue;
                    }
                    Report(context.Command, ActionStatus.Started, null);
                    try
                    {
                        handler.Execute(context.Command, context);
                    }
                    catch (Exception e)
                    {
                        context.Fail(e.GetType().Name + ": " + e.Message);
                    }
                }
            }
            finally
            {
                lock (_gate) _pumping = false;
            }
        }

        private void OnCompleted(ActionContext context, ActionStatus status, string detail)
        {
            lock (_gate)
            {
                if (_running != context) return;
                _running = null;
                _runningHandler = null;
            }
            Report(context.Command, status, detail);
            if (status == ActionStatus.Failed) FailRestOfPlan(context.Command);
            Pump();
        }

        private void FailRestOfPlan(ActionCommand failed)
        {
            if (string.IsNullOrEmpty(failed.PlanId)) return;
            string planId = failed.PlanId;
            Cancel(c => c.PlanId == planId, "an earlier step of the plan failed (" + failed.Verb + ")");
        }

        private void Report(ActionCommand command, ActionStatus status, string detail)
        {
            var result = new ActionResult { CommandId = command.CommandId, Status = status, Detail = detail };
            _report(result);
            var observers = ResultReported;
            if (observers != null) observers(command, result);
        }
    }
}
