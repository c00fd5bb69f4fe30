using System;
using System.Collections.Generic;
using NpcRuntime.Actions;
using NpcRuntime.Protocol;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>The action queue: handlers by verb, results, plans, cancellation.</summary>
    internal static class ActionTests
    {
        public static void Register(TestRunner t)
        {
            t.Run("actions: a handler's success is reported as started then succeeded", ReportsSuccess);
            t.Run("actions: an unknown verb fails with a useful detail", UnknownVerbFails);
            t.Run("actions: one at a time; the next starts when the first finishes", OneAtATime);
            t.Run("actions: plan steps run in step order; a failed step cancels the rest", Plans);
            t.Run("actions: cancelling a turn stops its running and pending commands", CancelTurn);
            t.Run("actions: a throwing handler fails the command", HandlerThrows);
        }

        private static ActionCommand Cmd(string id, string verb, string turn = "t", string plan = null, uint step = 0)
        {
            return new ActionCommand { CommandId = id, Verb = verb, TurnId = turn, PlanId = plan, StepIndex = step, StepCount = plan == null ? 0u : 3u };
        }

        private static string Log(List<ActionResult> results)
        {
            var parts = new List<string>();
            foreach (var r in results) parts.Add(r.CommandId + ":" + r.Status);
            return string.Join(" ", parts.ToArray());
        }

        private static void ReportsSuccess()
        {
            var results = new List<ActionResult>();
            var q = new ActionQueue(results.Add);
            q.Register("emote", (c, ctx) => ctx.Succeed("waved"));
            q.Enqueue(Cmd("c1", "emote"));
            Assert.Equal("c1:Started c1:Succeeded", Log(results), "results");
            Assert.Equal("waved", results[1].Detail, "detail");
            Assert.True(q.Running == null, "idle again");
        }

        private static void UnknownVerbFails()
        {
            var results = new List<ActionResult>();
            var q = new ActionQueue(results.Add);
            q.Enqueue(Cmd("c1", "juggle"));
            Assert.Equal("c1:Failed", Log(results), "failed at once");
            Assert.True(results[0].Detail.Contains("juggle"), "detail names the verb: " + results[0].Detail);
        }

        private static void OneAtATime()
        {
            var results = new List<ActionResult>();
            var q = new ActionQueue(results.Add);
            var running = new List<ActionContext>();
            q.Register("move_to", (c, ctx) => running.Add(ctx));
            q.Enqueue(Cmd("c1", "move_to"));
            q.Enqueue(Cmd("c2", "move_to"));
            Assert.Equal("c1:Started", Log(results), "only the first started");
            Assert.Equal(1, q.PendingCount, "second waits");
            running[0].Succeed();
            Assert.Equal("c1:Started c1:Succeeded c2:Started", Log(results), "second starts after the first");
            running[0].Fail("twice"); // ignored: already completed
            running[1].Fail("blocked");
            Assert.Equal("c1:Started c1:Succeeded c2:Started c2:Failed", Log(results), "failure reported once");
        }

        private static void Plans()
        {
            var results = new List<ActionResult>();
            var q = new ActionQueue(results.Add);
            ActionContext blocker = null;
            q.Register("wait", (c, ctx) => blocker = ctx);
            q.Register("step", (c, ctx) => ctx.Succeed());
            q.Register("bad", (c, ctx) => ctx.Fail("no path"));
            q.Enqueue(Cmd("w", "wait"));
            q.Enqueue(Cmd("s2", "step", plan: "p", step: 2));
            q.Enqueue(Cmd("s0", "step", plan: "p", step: 0));
            q.Enqueue(Cmd("s1", "step", plan: "p", step: 1));
            blocker.Succeed();
            Assert.Equal("w:Started w:Succeeded s0:Started s0:Succeeded s1:Started s1:Succeeded s2:Started s2:Succeeded", Log(results), "step order");

            results.Clear();
            q.Enqueue(Cmd("w2", "wait"));
            q.Enqueue(Cmd("b0", "bad", plan: "q", step: 0));
            q.Enqueue(Cmd("b1", "step", plan: "q", step: 1));
            q.Enqueue(Cmd("b2", "step", plan: "q", step: 2));
            q.Enqueue(Cmd("other", "step"));
            blocker.Succeed();
            Assert.Equal("w2:Started w2:Succeeded b0:Started b0:Failed b1:Cancelled b2:Cancelled other:Started other:Succeeded", Log(results), "plan failure");
        }

        private static void CancelTurn()
        {
            var results = new List<ActionResult>();
            var q = new ActionQueue(results.Add);
            var cancelled = new List<string>();
            ActionContext running = null;
            q.Register("move_to", (c, ctx) => running = ctx, c => cancelled.Add(c.CommandId));
            q.Register("emote", (c, ctx) => ctx.Succeed());
            q.Enqueue(Cmd("m1", "move_to", turn: "t1"));
            q.Enqueue(Cmd("e1", "emote", turn: "t1"));
            q.Enqueue(Cmd("e2", "emote", turn: "t2"));
            q.CancelTurn("t1", "barge-in");
            Assert.Equal("m1:Started m1:Cancelled e1:Cancelled e2:Started e2:Succeeded", Log(results), "turn cancelled, other turn runs");
            Assert.Equal("m1", string.Join(",", cancelled.ToArray()), "handler told to stop");
            Assert.True(running.IsCancelled, "context cancelled");
            running.Succeed(); // too late: ignored
            Assert.Equal(5, results.Count, "late success ignored");
        }

        private static void HandlerThrows()
        {
            var results = new List<ActionResult>();
            var q = new ActionQueue(results.Add);
            q.Register("explode", (c, ctx) => { throw new InvalidOperationException("boom"); });
            q.Enqueue(Cmd("x", "explode"));
            Assert.Equal("x:Started x:Failed", Log(results), "failed");
            Assert.True(results[1].Detail.Contains("boom"), "detail");
        }
    }
}
