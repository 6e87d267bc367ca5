using System.Diagnostics.CodeAnalysis;
using LibCluster.Topology;
using Microsoft.Extensions.Configuration;
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
    /// Uses reflection; for trimmed or ahead-of-time compiled applications use the overload that takes a bind delegate.
    /// </summary>
    [RequiresUnreferencedCode(LibClusterBuilder.ReflectionBindingMessage)]
    [RequiresDynamicCode(LibClusterBuilder.ReflectionBindingMessage)]
    ILibClusterBuilder AddStrategy<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStrategy, TOptions>(string name)
        where TStrategy : class, ITopologyStrategy
        where TOptions : class, new();

    /// <summary>
    /// Registers a strategy made by <paramref name="factory"/>; its options are bound by reflection and checked with
    /// their data annotations, then by <paramref name="validate"/> (null for none), which returns errors naming config
    /// keys under the path it is given. For trimmed or ahead-of-time compiled applications use the overload that takes a bind delegate.
    /// </summary>
    [RequiresUnreferencedCode(LibClusterBuilder.ReflectionBindingMessage)]
    [RequiresDynamicCode(LibClusterBuilder.ReflectionBindingMessage)]
    ILibClusterBuilder AddStrategy<TOptions>(string name, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate)
        where TOptions : class, new();

    /// <summary>
    /// Registers a strategy whose options <paramref name="bind"/> reads from the topology's <c>Config</c> section,
    /// for example <c>static (config, options) =&gt; config.Bind(options)</c>, which the configuration binding
    /// source generator (<c>EnableConfigurationBindingGenerator</c>) turns into plain code: safe to trim and to
    /// compile ahead of time. Data annotations are not checked; <paramref name="validate"/> (null for none) returns
    /// errors naming config keys under the path it is given.
    /// </summary>
    ILibClusterBuilder AddStrategy<TOptions>(string name, Action<IConfiguration, TOptions> bind, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate)
        where TOptions : class, new();
}

internal sealed class LibClusterBuilder(IServiceCollection services) : ILibClusterBuilder
{
    internal const string ReflectionBindingMessage =
        "Binds the strategy's options and checks their data annotations by reflection. Use AddStrategy with a bind delegate in trimmed or ahead-of-time compiled applications.";

    public IServiceCollection Services { get; } = services;

    [RequiresUnreferencedCode(ReflectionBindingMessage)]
    [RequiresDynamicCode(ReflectionBindingMessage)]
    public ILibClusterBuilder AddStrategy<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStrategy, TOptions>(string name)
        where TStrategy : class, ITopologyStrategy
        where TOptions : class, new() =>
        AddStrategy<TOptions>(name, static (services, options) => ActivatorUtilities.CreateInstance<TStrategy>(services, options), validate: null);

    [RequiresUnreferencedCode(ReflectionBindingMessage)]
    [RequiresDynamicCode(ReflectionBindingMessage)]
    public ILibClusterBuilder AddStrategy<TOptions>(string name, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate)
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(factory);
        return Add(name, new ReflectionStrategyRegistration<TOptions>(name, factory, validate));
    }

    public ILibClusterBuilder AddStrategy<TOptions>(string name, Action<IConfiguration, TOptions> bind, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate)
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(factory);
        return Add(name, new StrategyRegistration<TOptions>(name, bind, factory, validate));
    }

    private LibClusterBuilder Add(string name, StrategyRegistration registration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        foreach (var existing in Services)
        {
            if (existing.ServiceType == typeof(StrategyRegistration) && existing.ImplementationInstance is StrategyRegistration known
                && string.Equals(known.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"A LibCluster strategy named '{name}' is already registered.");
            }
        }

        Services.AddSingleton(registration);
        return this;
    }
}
