using System;
using NpcRuntime.Protocol;

namespace NpcRuntime.Actions
{
    /// <summary>An <see cref="IActionHandler"/> made of two delegates.</summary>
    public sealed class DelegateActionHandler : IActionHandler
    {
        private readonly Action<ActionCommand, ActionContext> _execute;
        private readonly Action<ActionCommand> _cancel;

        /// <summary>Creates a handler.</summary>
        /// <param name="execute">Begins a command; must finish it through the context.</param>
        /// <param name="cancel">Stops a running command; may be null.</param>
        public DelegateActionHandler(Action<ActionCommand, ActionContext> execute, Action<ActionCommand> cancel = null)
        {
            if (execute == null) throw new ArgumentNullException("execute");
            _execute = execute;
            _cancel = cancel;
        }

        /// <inheritdoc />
        public void Execute(ActionCommand command, ActionContext context)
        {
            _execute(command, context);
        }

        /// <inheritdoc />
        public void Cancel(ActionCommand command)
        {
            if (_cancel != null) _cancel(command);
        }
    }
}
