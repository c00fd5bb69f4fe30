using System;
using System.Threading;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>
    /// The bridge's console test program, compiled with Runtime/Core by mcs and run under mono:
    /// <code>
    /// mono npc-bridge-tests.exe [--url ws://127.0.0.1:PORT/v1/converse] [--speech clip.s16le]
    ///     [--character jin] [--dump-client-events out.jsonl] [--timeout-s 600]
    /// </code>
    /// Without --url only the offline tests run. Exit code 0 only when every test passed.
    /// </summary>
    internal static class Program
    {
        private static int Main(string[] args)
        {
            string url = null, speech = null, dump = null, character = "jin";
            int timeoutS = 600;
            for (int i = 0; i < args.Length; i++)
            {
                string value = i + 1 < args.Length ? args[i + 1] : null;
                switch (args[i])
                {
                    case "--url": url = value; i++; break;
                    case "--speech": speech = value; i++; break;
                    case "--character": character = value; i++; break;
                    case "--dump-client-events": dump = value; i++; break;
                    case "--timeout-s": timeoutS = int.Parse(value); i++; break;
                    default:
                        Console.Error.WriteLine("unknown argument " + args[i]);
                        return 2;
                }
            }
            // A hung socket must not hang CI.
            var watchdog = new Timer(_ =>
            {
                Console.WriteLine("FAIL  the tests did not finish within " + timeoutS + " s");
                Environment.Exit(3);
            }, null, timeoutS * 1000, Timeout.Infinite);

            if (dump != null) JsonTests.DumpClientEvents(dump);
            var runner = new TestRunner();
            Console.WriteLine("== offline: Runtime/Core");
            JsonTests.Register(runner);
            AudioTests.Register(runner);
            VisemeTests.Register(runner);
            ActionTests.Register(runner);
            SceneTests.Register(runner);
            SessionTests.Register(runner);
            if (url != null)
            {
                Console.WriteLine();
                Console.WriteLine("== live: " + url + " (character " + character + ")");
                new LiveTests(url, speech, character).Register(runner);
            }
            int code = runner.Summarize();
            watchdog.Dispose();
            return code;
        }
    }
}
