using Microsoft.Extensions.Configuration;
using System.Diagnostics.Metrics;
using LibCluster.Eureka;
using LibCluster.Eureka.CloudFoundry;
using LibCluster.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the <c>Eureka</c> strategy to LibCluster.Net.</summary>
public static class EurekaLibClusterBuilderExtensions
{
    /// <summary>
    /// The name of the <see cref="System.Net.Http.HttpClient"/> the strategy uses (through <c>IHttpClientFactory</c>),
    /// for configuring it further, for example
    /// <c>services.AddHttpClient(EurekaLibClusterBuilderExtensions.HttpClientName).ConfigurePrimaryHttpMessageHandler(...)</c>.
    /// </summary>
    public const string HttpClientName = EurekaHttp.ClientName;

    /// <summary>
    /// Registers the <c>Eureka</c> strategy: topologies with <c>"Strategy": "Eureka"</c> register this node in a Netflix
    /// Eureka registry (Spring Cloud Services' service registry on Cloud Foundry, read from <c>VCAP_SERVICES</c>) and
    /// cluster with the application's other instances. Options: <see cref="EurekaStrategyOptions"/>, bound from the
    /// topology's <c>Config</c> and checked when the host starts. Calling it again does nothing.
    /// </summary>
    public static ILibClusterBuilder AddEureka(this ILibClusterBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddEureka(ProcessEnvironmentVariables.Instance);
    }

    /// <summary>Registers the strategy reading Cloud Foundry's variables from <paramref name="environment"/> (tests give a fake one).</summary>
    internal static ILibClusterBuilder AddEureka(this ILibClusterBuilder builder, IEnvironmentVariables environment)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(environment);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(EurekaMarker)))
        {
            return builder;
        }

        services.AddSingleton<EurekaMarker>();
        services.TryAddSingleton(static sp => new EurekaMetrics(sp.GetService<IMeterFactory>()));
        services.AddEurekaHttpClient();
        return builder.AddStrategy<EurekaStrategyOptions>(
            EurekaDefaults.StrategyName,
            static (config, options) => config.Bind(options),
            (sp, options) => new EurekaStrategy(options, sp.GetRequiredService<IHttpClientFactory>(), environment, sp.GetRequiredService<EurekaMetrics>()),
            (options, configPath) => EurekaSettings.Validate(options, configPath, environment));
    }

    private sealed class EurekaMarker;
}
