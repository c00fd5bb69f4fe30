using NpcRuntime.Protocol;

namespace NpcRuntime.Actions
{
    /// <summary>
    /// Carries out one verb (move_to, pick_up, emote, ...) in the game. The queue reports
    /// <see cref="ActionStatus.Started"/> before <see cref="Execute"/>; the handler then calls
    /// <see cref="ActionContext.Succeed"/> or <see cref="ActionContext.Fail"/> exactly once, at
    /// once or later (e.g. when a character arrives).
    /// </summary>
    public interface IActionHandler
    {
        /// <summary>Begins the command; finish it through <paramref name="context"/>.</summary>
        void Execute(ActionCommand command, ActionContext context);

        /// <summary>
        /// Stops a running command (barge-in, plan cancelled). The queue reports
        /// <see cref="ActionStatus.Cancelled"/> itself; later calls on the context are ignored.
        /// </summary>
        void Cancel(ActionCommand command);
    }
}
