using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>A minimal test harness: named checks, assertions, a summary and an exit code.</summary>
    internal sealed class TestRunner
    {
        private readonly List<string> _failures = new List<string>();
        private int _passed;

        public int Failed
        {
            get { return _failures.Count; }
        }

        public void Run(string name, Action test)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                test();
                _passed++;
                Console.WriteLine("PASS  " + name + "  (" + watch.ElapsedMilliseconds + " ms)");
            }
            catch (Exception e)
            {
                var inner = e is AggregateException && e.InnerException != null ? e.InnerException : e;
                _failures.Add(name + ": " + inner.Message);
                Console.WriteLine("FAIL  " + name + "  (" + watch.ElapsedMilliseconds + " ms)");
                Console.WriteLine("      " + inner.GetType().Name + ": " + inner.Message);
                if (!(inner is AssertionException)) Console.WriteLine(Indent(inner.StackTrace));
            }
        }

        public int Summarize()
        {
            Console.WriteLine();
            Console.WriteLine("== summary: " + _passed + " passed, " + _failures.Count + " failed");
            foreach (var f in _failures) Console.WriteLine("   failed: " + f);
            return _failures.Count == 0 ? 0 : 1;
        }

        private static string Indent(string s)
        {
            return s == null ? "" : "      " + s.Replace("\n", "\n      ");
        }
    }

    internal sealed class AssertionException : Exception
    {
        public AssertionException(string message) : base(message)
        {
        }
    }

    internal static class Assert
    {
        public static void True(bool condition, string what)
        {
            if (!condition) throw new AssertionException(what);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
            {
                throw new AssertionException(what + ": expected <" + expected + ">, got <" + actual + ">");
            }
        }

        public static void Near(double expected, double actual, double tolerance, string what)
        {
            if (Math.Abs(expected - actual) > tolerance)
            {
                throw new AssertionException(what + ": expected " + expected + " ± " + tolerance + ", got " + actual);
            }
        }

        public static T Throws<T>(Action action, string what) where T : Exception
        {
            try
            {
                action();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new AssertionException(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
            }
            throw new AssertionException(what + ": expected " + typeof(T).Name + ", nothing was thrown");
        }
    }
}
