using System.Diagnostics.Metrics;
using LibCluster.Diagnostics;
using LibCluster.Nodes;
using LibCluster.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Topology;

/// <summary>A topology runtime wired to fakes: a fake clock, a fake mesh and test-driven strategies.</summary>
internal sealed class RuntimeHarness : IAsyncDisposable
{
    public static readonly NodeName SelfName = NodeName.Parse("a@a.test");

    private readonly ServiceProvider _services;
    private readonly LoggerFactory _loggers;

    public RuntimeHarness(int topologies = 1, TopologyRuntimeOptions? options = null)
    {
        Time = new TimerTrackingTimeProvider();
        Connector = new FakeNodeConnector(SelfName, Time);
        Logs = new CapturingLoggerProvider(Time);
        _loggers = new LoggerFactory([Logs], new LoggerFilterOptions { MinLevel = LogLevel.Trace });
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Strategies = [.. Enumerable.Range(0, topologies).Select(_ => new FakeStrategy())];
        Runtime = new TopologyRuntime(
            [.. Strategies.Select((s, i) => ($"t{i + 1}", (ITopologyStrategy)s))],
            Connector,
            options ?? new TopologyRuntimeOptions(),
            Time,
            _loggers,
            new ClusterMetrics(_services.GetRequiredService<IMeterFactory>()));
    }

    public TimerTrackingTimeProvider Time { get; }

    public FakeNodeConnector Connector { get; }

    public CapturingLoggerProvider Logs { get; }

    public FakeStrategy[] Strategies { get; }

    public FakeStrategy Strategy => Strategies[0];

    public TopologyRuntime Runtime { get; }

    /// <summary><c>{basename}@{basename}.test</c>, dialled at <paramref name="port"/>.</summary>
    public static NodeAddress Node(string basename, int port = 9001) => NodeAddress.Parse($"{basename}@{basename}.test:{port}", 9001);

    public Task WaitConnectedAsync(params NodeAddress[] nodes) =>
        Eventually.TrueAsync(
            () => nodes.All(n => Connector.IsConnected(n.Name)),
            $"{string.Join(", ", nodes.Select(n => n.Name))} connected",
            () => $"not connected: {string.Join(", ", nodes.Where(n => !Connector.IsConnected(n.Name)).Select(n => n.Name))}");

    public Task WaitDesiredAsync(params NodeAddress[] nodes) =>
        Eventually.TrueAsync(
            () => Runtime.DesiredNodes.SetEquals(nodes),
            $"the desired nodes are exactly {string.Join(", ", nodes.Select(n => n.ToString()))}",
            () => $"desired: {string.Join(", ", Runtime.DesiredNodes.Select(n => n.ToString()))}");

    public Task WaitDialCountAsync(NodeAddress node, int count) =>
        Eventually.TrueAsync(
            () => Connector.DialCount(node.Name) >= count,
            $"{node.Name} dialled {count} times",
            () => $"dialled {Connector.DialCount(node.Name)} times");

    public async ValueTask DisposeAsync()
    {
        await Runtime.DisposeAsync().WithTimeout();
        Connector.ReleaseAll();
        await _services.DisposeAsync().WithTimeout();
        _loggers.Dispose();
    }
}
