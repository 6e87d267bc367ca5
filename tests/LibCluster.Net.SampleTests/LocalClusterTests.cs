using System.Text.Json;
using System.Text.RegularExpressions;
using LibCluster.SampleTests.Support;
using Xunit.Abstractions;

namespace LibCluster.SampleTests;

/// <summary>
/// The README's first command, <c>dotnet run --project samples/LocalCluster</c>, run as a user runs it: three instances
/// of the sample app find each other (Development: Gossip on 127.0.0.1), the launcher prints each one's GET /, and a
/// stop request ends every instance gracefully (each peer sees GOODBYE: "Node down: ... (shutdown)").
/// </summary>
[Collection(SampleProcesses.Name)]
public sealed partial class LocalClusterTests(ITestOutputHelper output)
{
    // A cold start of dotnet run plus three ASP.NET Core apps, on a 2-core machine that is running other tests too.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(40);

    [LinuxFact]
    public Task ReadmeFirstCommand_SigtermToDotnetRun_ThreeInstancesConnectThenAllStopGracefully() => RunAsync(ctrlC: false);

    [CtrlCFact]
    public Task ReadmeFirstCommand_CtrlC_ThreeInstancesConnectThenAllStopGracefully() => RunAsync(ctrlC: true);

    private async Task RunAsync(bool ctrlC)
    {
        using var orphans = new Orphans();

        // The README's command; the test run has built it already, in this configuration.
        var info = Dotnet.StartInfo(Repository.Root, "run", "--project", "samples/LocalCluster", "--no-build", "-c", Repository.Configuration);
        await using var run = ChildProcess.Start("dotnet run", info);
        try
        {
            var instances = (await run.WaitForLinesAsync(InstanceLine().IsMatch, 3, StartTimeout, "the instances it started"))
                .Select(line => InstanceLine().Match(line))
                .Select(m => new Started(m.Groups["name"].Value, new Uri(m.Groups["url"].Value), int.Parse(m.Groups["pid"].Value, System.Globalization.CultureInfo.InvariantCulture)))
                .ToArray();
            foreach (var instance in instances)
            {
                orphans.Watch(instance.Pid, "MyClusteredApp.dll");
            }

            instances.Select(i => i.Name).Should().BeEquivalentTo(["app0@127.0.0.1", "app1@127.0.0.1", "app2@127.0.0.1"]);

            // Once all are connected it prints each one's GET /, each showing the two others.
            var views = (await run.WaitForLinesAsync(ViewLine().IsMatch, 3, StartTimeout, "each instance's GET /"))
                .Select(line => ViewLine().Match(line))
                .ToDictionary(m => new Uri(m.Groups["url"].Value), m => m.Groups["json"].Value);
            foreach (var instance in instances)
            {
                views.Should().ContainKey(instance.Url);
                using var view = JsonDocument.Parse(views[instance.Url]);
                view.RootElement.GetProperty("current_node").GetString().Should().Be(instance.Name);
                view.RootElement.GetProperty("connected_nodes").EnumerateArray().Select(n => n.GetString())
                    .Should().Equal(instances.Where(i => i != instance).Select(i => i.Name).Order(StringComparer.Ordinal), run.Tail());
            }

            // The hint it prints works as printed.
            var hint = await run.WaitForLineAsync(l => PingHint().IsMatch(l), TimeSpan.FromSeconds(10), "the curl hint");
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) })
            {
                var pong = await http.GetStringAsync(new Uri(PingHint().Match(hint).Groups["url"].Value));
                pong.Should().Contain("\"reply\":\"pong from app1@127.0.0.1\"");
            }

            if (ctrlC)
            {
                // What Ctrl+C in a terminal does: SIGINT to every process of the foreground job, dotnet run, the
                // launcher it started and the instances.
                var launcher = Orphans.ChildrenOf(run.Pid).Where(pid => Orphans.IsRunning(pid, "LocalCluster")).Should().ContainSingle().Subject;
                orphans.Watch(launcher, "LocalCluster");
                foreach (var pid in new[] { run.Pid, launcher }.Concat(instances.Select(i => i.Pid)))
                {
                    Signals.Send(pid, Signals.SigInt);
                }
            }
            else
            {
                // What a service manager or `kill` does: SIGTERM to the command alone, which passes it on.
                run.Signal(Signals.SigTerm);
            }

            var exitCode = await run.WaitForExitAsync(StopTimeout);
            exitCode.Should().Be(0, run.Tail());
            run.Lines.Should().Contain("All instances stopped cleanly.");
            foreach (var instance in instances)
            {
                run.Lines.Should().Contain($"{instance.Name} (pid {instance.Pid}) exited with code 0");
                Orphans.IsRunning(instance.Pid, "MyClusteredApp.dll").Should().BeFalse($"{instance.Name} must be gone");

                // GOODBYE: every instance saw each of the others leave because it shut down, not because a connection broke.
                var label = instance.Name.Split('@')[0];
                foreach (var peer in instances.Where(i => i != instance))
                {
                    run.Lines.Should().Contain(l => l.StartsWith($"[{label}] ", StringComparison.Ordinal) && l.EndsWith($"Node down: {peer.Name} (shutdown)", StringComparison.Ordinal));
                }
            }

            run.Lines.Where(l => l.Contains("Node down:", StringComparison.Ordinal)).Should().OnlyContain(l => l.EndsWith("(shutdown)", StringComparison.Ordinal));
        }
        finally
        {
            output.WriteLine(run.Output);
        }
    }

    private sealed record Started(string Name, Uri Url, int Pid);

    // "  app0@127.0.0.1  http://127.0.0.1:21345/  dist port 23456  pid 4242"
    [GeneratedRegex(@"^\s+(?<name>app\d@127\.0\.0\.1)\s+(?<url>http://127\.0\.0\.1:\d+/)\s+dist port \d+\s+pid (?<pid>\d+)$")]
    private static partial Regex InstanceLine();

    // "  GET http://127.0.0.1:21345/ -> {"current_node":...}"
    [GeneratedRegex(@"^\s+GET (?<url>http://127\.0\.0\.1:\d+/) -> (?<json>\{.*\})$")]
    private static partial Regex ViewLine();

    // "  curl http://127.0.0.1:21345/ping/app1@127.0.0.1"
    [GeneratedRegex(@"^\s+curl (?<url>http://127\.0\.0\.1:\d+/ping/app1@127\.0\.0\.1)$")]
    private static partial Regex PingHint();
}
