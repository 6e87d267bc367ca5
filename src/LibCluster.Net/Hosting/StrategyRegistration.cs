using System.ComponentModel.DataAnnotations;
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

internal sealed class StrategyRegistration<TOptions>(
    string name,
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
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            foreach (var result in results)
            {
                var member = result.MemberNames.FirstOrDefault();
                errors.Add(member is null ? $"{configPath}: {result.ErrorMessage}" : $"{configPath}:{member}: {result.ErrorMessage}");
            }
        }

        if (validate is not null)
        {
            errors.AddRange(validate(options, configPath));
        }

        return errors;
    }

    public override ITopologyStrategy Create(IServiceProvider services, TopologyOptions topology) => factory(services, CreateOptions(topology));

    private static TOptions CreateOptions(TopologyOptions topology)
    {
        var options = new TOptions();
        topology.Config?.Bind(options, o => o.ErrorOnUnknownConfiguration = false);
        foreach (var configure in topology.ConfigureActions)
        {
            configure(options);
        }

        return options;
    }
}
