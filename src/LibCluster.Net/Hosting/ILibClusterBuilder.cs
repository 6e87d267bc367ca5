using System.Diagnostics.CodeAnalysis;
using LibCluster.Topology;
using Microsoft.Extensions.DependencyInjection;

namespace LibCluster.Hosting;

/// <summary>Adds strategies to LibCluster.Net; returned by <c>AddLibCluster</c>.</summary>
public interface ILibClusterBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }

    /// <summary>
    /// Registers a strategy under <paramref name="name"/> (case-insensitive). For each topology that names it, a
    /// <typeparamref name="TOptions"/> is bound from the topology's <c>Config</c> section, checked with its data
    /// annotations, and a <typeparamref name="TStrategy"/> is made from the services plus those options.
    /// </summary>
    ILibClusterBuilder AddStrategy<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStrategy, TOptions>(string name)
        where TStrategy : class, ITopologyStrategy
        where TOptions : class, new();

    /// <summary>Registers a strategy made by <paramref name="factory"/>; <paramref name="validate"/> returns errors naming config keys under the path it is given.</summary>
    ILibClusterBuilder AddStrategy<TOptions>(string name, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate = null)
        where TOptions : class, new();
}

internal sealed class LibClusterBuilder(IServiceCollection services) : ILibClusterBuilder
{
    public IServiceCollection Services { get; } = services;

    public ILibClusterBuilder AddStrategy<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStrategy, TOptions>(string name)
        where TStrategy : class, ITopologyStrategy
        where TOptions : class, new() =>
        AddStrategy<TOptions>(name, static (services, options) => ActivatorUtilities.CreateInstance<TStrategy>(services, options));

    public ILibClusterBuilder AddStrategy<TOptions>(string name, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate = null)
        where TOptions : class, new()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        foreach (var existing in Services)
        {
            if (existing.ServiceType == typeof(StrategyRegistration) && existing.ImplementationInstance is StrategyRegistration known
                && string.Equals(known.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"A LibCluster strategy named '{name}' is already registered.");
            }
        }

        Services.AddSingleton<StrategyRegistration>(new StrategyRegistration<TOptions>(name, factory, validate));
        return this;
    }
}
