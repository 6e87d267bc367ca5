using System.Diagnostics.Metrics;
using LibCluster;
using LibCluster.Diagnostics;
using LibCluster.Hosting;
using LibCluster.Mesh;
using LibCluster.Messaging;
using LibCluster.Nodes;
using LibCluster.Strategies.Static;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds LibCluster.Net to an application.</summary>
public static class LibClusterServiceCollectionExtensions
{
    /// <summary>
    /// Adds LibCluster.Net configured from <paramref name="section"/> (usually <c>configuration.GetSection("LibCluster")</c>):
    /// <c>Node:*</c> for this node and <c>Topologies:{name}:{Strategy,Enabled,Config}</c> for discovery.
    /// </summary>
    public static ILibClusterBuilder AddLibCluster(this IServiceCollection services, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        var builder = services.AddLibClusterCore();
        services.Configure<LibClusterOptions>(options => ReadSection(section, options));
        return builder;
    }

    /// <summary>Adds LibCluster.Net configured in code.</summary>
    public static ILibClusterBuilder AddLibCluster(this IServiceCollection services, Action<LibClusterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddLibClusterCore();
        services.Configure(configure);
        return builder;
    }

    private static LibClusterBuilder AddLibClusterCore(this IServiceCollection services)
    {
        var builder = new LibClusterBuilder(services);
        if (services.Any(d => d.ServiceType == typeof(LibClusterMarker)))
        {
            return builder;
        }

        services.AddSingleton<LibClusterMarker>();
        services.AddOptions<LibClusterOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LibClusterOptions>, LibClusterOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ClusterMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => CreateSettings(sp.GetRequiredService<IOptions<LibClusterOptions>>().Value));
        services.TryAddSingleton(sp => new ConnectionManager(
            sp.GetRequiredService<MeshSettings>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ClusterMetrics>(),
            sp.GetRequiredService<ILogger<ConnectionManager>>()));
        services.TryAddSingleton(sp => new MailboxRegistry(
            sp.GetRequiredService<MeshSettings>().Name,
            sp.GetRequiredService<ILogger<MailboxRegistry>>(),
            sp.GetRequiredService<IOptions<LibClusterOptions>>().Value.Node.MailboxCapacity,
            sp.GetRequiredService<IOptions<LibClusterOptions>>().Value.Node.MailboxCapacityBytes));
        services.TryAddSingleton<ICluster>(sp => new Cluster(
            sp.GetRequiredService<ConnectionManager>(),
            sp.GetRequiredService<MailboxRegistry>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<LibClusterHostedService>();
        builder.AddStrategy<StaticStrategyOptions>(
            "Static",
            static (config, options) => config.Bind(options),
            static (_, options) => new StaticStrategy(options),
            static (options, path) => StaticStrategy.Validate(options, path));
        builder.AddStrategy<LibCluster.Strategies.Gossip.GossipStrategyOptions>(
            "Gossip",
            static (config, options) => config.Bind(options),
            static (sp, options) => new LibCluster.Strategies.Gossip.GossipStrategy(options, sp.GetRequiredService<ConnectionManager>().Creation),
            static (options, path) => LibCluster.Strategies.Gossip.GossipStrategy.Validate(options, path));
        services.TryAddSingleton<LibCluster.Strategies.Dns.IDnsResolver>(static _ => new LibCluster.Strategies.Dns.DnsClientResolver());
        builder.AddStrategy<LibCluster.Strategies.Dns.DnsStrategyOptions>(
            "Dns",
            static (config, options) => config.Bind(options),
            static (sp, options) => new LibCluster.Strategies.Dns.DnsStrategy(options, sp.GetRequiredService<LibCluster.Strategies.Dns.IDnsResolver>()),
            static (options, path) => LibCluster.Strategies.Dns.DnsStrategy.Validate(options, path));
        builder.AddStrategy<LibCluster.Strategies.Dns.DnsSrvStrategyOptions>(
            "DnsSrv",
            static (config, options) => config.Bind(options),
            static (sp, options) => new LibCluster.Strategies.Dns.DnsSrvStrategy(options, sp.GetRequiredService<LibCluster.Strategies.Dns.IDnsResolver>()),
            static (options, path) => LibCluster.Strategies.Dns.DnsSrvStrategy.Validate(options, path));
        return builder;
    }

    private static void ReadSection(IConfigurationSection section, LibClusterOptions options)
    {
        section.GetSection("Node").Bind(options.Node);
        foreach (var child in section.GetSection("Topologies").GetChildren())
        {
            var topology = new TopologyOptions
            {
                Strategy = child["Strategy"],
                Config = child.GetSection("Config"),
            };
            if (child["Enabled"] is { } enabled)
            {
                if (!bool.TryParse(enabled, out var value))
                {
                    throw new InvalidOperationException($"{child.Path}:Enabled '{enabled}' is not true or false.");
                }

                topology.Enabled = value;
            }

            options.Topologies[child.Key] = topology;
        }
    }

    internal static MeshSettings CreateSettings(LibClusterOptions options)
    {
        var node = options.Node;
        var name = string.IsNullOrWhiteSpace(node.Name)
            ? NodeName.From(node.Basename, DefaultNodeName.Host())
            : NodeName.Parse(node.Name.Trim());
        return new MeshSettings
        {
            Name = name,
            Cookie = node.Cookie!,
            AcceptedCookies = [.. node.AcceptedCookies],
            ListenAddress = System.Net.IPAddress.Parse(node.ListenAddress),
            Port = node.Port,
            TickTime = node.TickTime,
            HandshakeTimeout = node.HandshakeTimeout,
            ConnectTimeout = node.ConnectTimeout,
            MaxFrameBytes = node.MaxFrameBytes,
            MaxPendingHandshakes = node.MaxPendingHandshakes,
            MaxBufferedBytesPerConnection = node.MaxBufferedBytesPerConnection,
            Tls = node.Tls.Enabled ? TlsLoader.Load(node.Tls) : null,
        };
    }

    private sealed class LibClusterMarker;
}
