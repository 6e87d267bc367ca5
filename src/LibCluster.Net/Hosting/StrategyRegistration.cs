using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using LibCluster.Topology;
using Microsoft.Extensions.Configuration;

namespace LibCluster.Hosting;

/// <summary>A strategy known by name: how to make its options from a topology's settings, check them, and start it.</summary>
internal abstract class StrategyRegistration(string name)
{
    public string Name { get; } = name;

    /// <summary>Builds and checks the options; returns the errors, each naming its config key under <paramref name="configPath"/>.</summary>
    public abstract IReadOnlyList<string> Validate(TopologyOptions topology, string configPath);

    public abstract ITopologyStrategy Create(IServiceProvider services, TopologyOptions topology);
}

/// <summary>A strategy whose options are read by a bind delegate: no reflection, safe to trim and to compile ahead of time.</summary>
internal class StrategyRegistration<TOptions>(
    string name,
    Action<IConfiguration, TOptions> bind,
    Func<IServiceProvider, TOptions, ITopologyStrategy> factory,
    Func<TOptions, string, IEnumerable<string>>? validate) : StrategyRegistration(name)
    where TOptions : class, new()
{
    public override IReadOnlyList<string> Validate(TopologyOptions topology, string configPath)
    {
        TOptions options;
        try
        {
            options = CreateOptions(topology);
        }
        catch (Exception ex) when (ex is InvalidOperationException or InvalidCastException or FormatException or ArgumentException)
        {
            return [$"{configPath}: {ex.Message}"];
        }

        var errors = new List<string>();
        CheckAnnotations(options, configPath, errors);
        if (validate is not null)
        {
            errors.AddRange(validate(options, configPath));
        }

        return errors;
    }

    public override ITopologyStrategy Create(IServiceProvider services, TopologyOptions topology) => factory(services, CreateOptions(topology));

    /// <summary>Adds the errors of the options' data annotations; only the reflection-based registration has any.</summary>
    protected virtual void CheckAnnotations(TOptions options, string configPath, List<string> errors)
    {
    }

    private TOptions CreateOptions(TopologyOptions topology)
    {
        var options = new TOptions();
        if (topology.Config is { } config)
        {
            bind(config, options);
        }

        foreach (var configure in topology.ConfigureActions)
        {
            configure(options);
        }

        return options;
    }
}

/// <summary>
/// A strategy whose options are bound and checked by reflection (the configuration binder and data annotations):
/// the convenient way, for applications that are not trimmed.
/// </summary>
internal sealed class ReflectionStrategyRegistration<TOptions> : StrategyRegistration<TOptions>
    where TOptions : class, new()
{
    [RequiresUnreferencedCode(LibClusterBuilder.ReflectionBindingMessage)]
    [RequiresDynamicCode(LibClusterBuilder.ReflectionBindingMessage)]
    public ReflectionStrategyRegistration(string name, Func<IServiceProvider, TOptions, ITopologyStrategy> factory, Func<TOptions, string, IEnumerable<string>>? validate)
        : base(name, BindByReflection, factory, validate)
    {
    }

    // The reflection binder, as a delegate: the binding source generator replaces calls it can generate, and a generic
    // TOptions is one it cannot, so this path is taken on purpose. Only the constructor above makes one of these
    // registrations, and it carries the warning to whoever calls it.
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Constructed only through a RequiresUnreferencedCode constructor.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Constructed only through a RequiresDynamicCode constructor.")]
    private static readonly Action<IConfiguration, object?, Action<BinderOptions>?> s_reflectionBinder = ConfigurationBinder.Bind;

    private static void BindByReflection(IConfiguration config, TOptions options) =>
        s_reflectionBinder(config, options, static o => o.ErrorOnUnknownConfiguration = false);

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Constructed only through a RequiresUnreferencedCode constructor.")]
    protected override void CheckAnnotations(TOptions options, string configPath, List<string> errors)
    {
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            return;
        }

        foreach (var result in results)
        {
            var member = result.MemberNames.FirstOrDefault();
            errors.Add(member is null ? $"{configPath}: {result.ErrorMessage}" : $"{configPath}:{member}: {result.ErrorMessage}");
        }
    }
}
