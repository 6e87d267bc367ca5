using LibCluster.Nodes;

namespace LibCluster.Eureka.Tests;

/// <summary>Options validation, and what is read from a Cloud Foundry environment (through the fake environment seam).</summary>
public sealed class EurekaSettingsTests
{
    private const string Path = "LibCluster:Topologies:cf:Config";
    private const string Secret = "Zq8vN1xR4tY7uW0pL3kJ6hG9fD2sA5mC";

    private static readonly NodeName Self = NodeName.Parse("app2@10.255.7.12");

    internal static string VcapServices(string label = "p.service-registry", string name = "service-registry", string uri = "https://service-registry-7a1b.apps.example.com", bool withOAuth = true)
    {
        var oauth = withOAuth
            ? $$""","client_id":"p-service-registry-3f1a7c2e","client_secret":"{{Secret}}","access_token_uri":"https://p-spring-cloud-services.uaa.sys.example.com/oauth/token" """
            : string.Empty;
        return $$"""
            {
              "p.mysql": [ { "label": "p.mysql", "name": "db", "tags": ["mysql"], "credentials": { "uri": "mysql://u:p@db:3306/x" } } ],
              "{{label}}": [ {
                "label": "{{label}}", "name": "{{name}}", "plan": "standard", "provider": null,
                "tags": ["eureka", "discovery", "registry", "spring-cloud"],
                "credentials": { "uri": "{{uri}}"{{oauth}} }
              } ]
            }
            """;
    }

    internal static Dictionary<string, string> CloudFoundryVariables(string vcapServices) => new()
    {
        ["VCAP_SERVICES"] = vcapServices,
        ["VCAP_APPLICATION"] = """
            {"application_id":"9f1c2d3e-aaaa-bbbb-cccc-000000000001","application_name":"my-clustered-app",
             "application_uris":["my-clustered-app.apps.example.com"],"space_name":"dev","organization_name":"acme",
             "limits":{"mem":256,"disk":1024,"fds":16384}}
            """,
        ["CF_INSTANCE_INDEX"] = "2",
        ["CF_INSTANCE_GUID"] = "1b2c3d4e-5f60-4718-8293-a4b5",
        ["CF_INSTANCE_INTERNAL_IP"] = "10.255.7.12",
        ["CF_INSTANCE_IP"] = "10.0.16.5",
        ["PORT"] = "8080",
    };

    private static Task<EurekaSettings> ResolveAsync(EurekaStrategyOptions options, IReadOnlyDictionary<string, string>? variables = null, NodeName? self = null, int distPort = 9001) =>
        EurekaSettings.ResolveAsync(options, new FakeEnvironment(variables), Path, self ?? Self, distPort, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    [Fact]
    public async Task ResolveAsync_FullCloudFoundryEnvironment_ReadsBindingAppAndInstance()
    {
        var settings = await ResolveAsync(new EurekaStrategyOptions(), CloudFoundryVariables(VcapServices()));

        settings.ServiceUrl.Should().Be(new Uri("https://service-registry-7a1b.apps.example.com/eureka/"));
        settings.Source.Should().Contain("service-registry");
        settings.OAuth.Should().NotBeNull();
        settings.OAuth!.TokenUri.Should().Be(new Uri("https://p-spring-cloud-services.uaa.sys.example.com/oauth/token"));
        settings.OAuth.ClientId.Should().Be("p-service-registry-3f1a7c2e");
        settings.OAuth.ClientSecret.Should().Be(Secret);
        settings.AppName.Should().Be("MY-CLUSTERED-APP");
        settings.VipAddress.Should().Be("my-clustered-app");
        settings.InstanceId.Should().Be("10.255.7.12:1b2c3d4e-5f60-4718-8293-a4b5");
        settings.HostName.Should().Be("10.255.7.12");
        settings.IpAddress.Should().Be("10.255.7.12");
        settings.Port.Should().Be(8080, "the app's HTTP port is what other Eureka clients call");
        settings.DistPort.Should().Be(9001);
        settings.Metadata.Should().Contain("libcluster.node", "app2@10.255.7.12")
            .And.Contain("libcluster.port", "9001")
            .And.Contain("cfInstanceIndex", "2")
            .And.Contain("cfAppGuid", "9f1c2d3e-aaaa-bbbb-cccc-000000000001")
            .And.Contain("cfInstanceGuid", "1b2c3d4e-5f60-4718-8293-a4b5");
        settings.ToString().Should().NotContain(Secret);
        settings.OAuth.ToString().Should().NotContain(Secret);
    }

    [Theory]
    [InlineData("p-service-registry")]
    [InlineData("p.service-registry")]
    [InlineData("user-provided")]
    public async Task ResolveAsync_BindingByLabelOrEurekaTag_IsFound(string label)
    {
        var settings = await ResolveAsync(new EurekaStrategyOptions(), CloudFoundryVariables(VcapServices(label: label, uri: "https://registry.example.com/")));

        settings.ServiceUrl.Should().Be(new Uri("https://registry.example.com/eureka/"));
    }

    [Fact]
    public async Task ResolveAsync_BindingAndConfiguredServiceUrl_BindingWins_UnlessSwitchedOff()
    {
        var variables = CloudFoundryVariables(VcapServices());
        var options = new EurekaStrategyOptions { ServiceUrl = "http://localhost:8761/eureka/" };

        (await ResolveAsync(options, variables)).ServiceUrl.Host.Should().Be("service-registry-7a1b.apps.example.com");

        options.UseCloudFoundryBinding = false;
        var local = await ResolveAsync(options, variables);
        local.ServiceUrl.Should().Be(new Uri("http://localhost:8761/eureka/"));
        local.OAuth.Should().BeNull();
        local.AppName.Should().Be("MY-CLUSTERED-APP", "VCAP_APPLICATION still names the app");
    }

    [Fact]
    public async Task ResolveAsync_SeveralRegistries_ServiceBindingNameChooses()
    {
        var vcap = """
            {"p.service-registry":[
              {"label":"p.service-registry","name":"registry-a","tags":["eureka"],"credentials":{"uri":"https://a.example.com"}},
              {"label":"p.service-registry","name":"registry-b","tags":["eureka"],"credentials":{"uri":"https://b.example.com"}}]}
            """;
        var variables = new Dictionary<string, string> { ["VCAP_SERVICES"] = vcap };
        var options = new EurekaStrategyOptions { AppName = "x" };

        var first = await ResolveAsync(options, variables);
        options.ServiceBindingName = "registry-b";
        var chosen = await ResolveAsync(options, variables);

        first.ServiceUrl.Host.Should().Be("a.example.com");
        first.IgnoredBindings.Should().Equal("registry-b");
        chosen.ServiceUrl.Host.Should().Be("b.example.com");
    }

    [Fact]
    public async Task ResolveAsync_OutsideCloudFoundry_TakesEverythingFromConfig()
    {
        var options = new EurekaStrategyOptions
        {
            ServiceUrl = "http://registry.internal:8761/eureka",
            AppName = "Orders",
            ClientId = "orders",
            ClientSecret = Secret,
            AccessTokenUri = "https://uaa.internal/oauth/token",
        };

        var settings = await ResolveAsync(options, self: NodeName.Parse("app0@127.0.0.1"), distPort: 9100);

        settings.ServiceUrl.Should().Be(new Uri("http://registry.internal:8761/eureka/"), "a missing trailing slash is added");
        settings.AppName.Should().Be("ORDERS");
        settings.OAuth!.ClientId.Should().Be("orders");
        settings.InstanceId.Should().Be("app0@127.0.0.1:9100");
        settings.HostName.Should().Be("127.0.0.1");
        settings.IpAddress.Should().Be("127.0.0.1");
        settings.Port.Should().Be(9100);
        settings.Metadata.Keys.Should().BeEquivalentTo("libcluster.node", "libcluster.port");
    }

    [Fact]
    public async Task ResolveAsync_TwoNodesOnOneHost_GetDifferentDefaultInstanceIds()
    {
        var options = new EurekaStrategyOptions { ServiceUrl = "http://localhost:8761/eureka/", AppName = "a" };

        var first = await ResolveAsync(options, self: NodeName.Parse("a@127.0.0.1"), distPort: 9001);
        var second = await ResolveAsync(options, self: NodeName.Parse("b@127.0.0.1"), distPort: 9002);

        first.InstanceId.Should().NotBe(second.InstanceId);
        first.HostName.Should().Be(second.HostName);
    }

    [Fact]
    public async Task ResolveAsync_ServiceUrlWithUserInfo_MovesItToBasicCredentials()
    {
        var options = new EurekaStrategyOptions { ServiceUrl = "http://eureka:p%40ss@localhost:8761/eureka/", AppName = "a" };

        var settings = await ResolveAsync(options);

        settings.ServiceUrl.Should().Be(new Uri("http://localhost:8761/eureka/"));
        settings.BasicCredentials.Should().Be("eureka:p@ss");
        settings.ToString().Should().NotContain("p@ss").And.NotContain("p%40ss");
    }

    [Fact]
    public async Task ResolveAsync_Overrides_Win()
    {
        var options = new EurekaStrategyOptions
        {
            InstanceId = "custom-1",
            HostName = "node-2.internal",
            IpAddress = "192.0.2.7",
            Port = 7000,
            AppName = "cluster-x",
        };
        options.Metadata["zone"] = "eu-1";

        var settings = await ResolveAsync(options, CloudFoundryVariables(VcapServices()));

        settings.InstanceId.Should().Be("custom-1");
        settings.HostName.Should().Be("node-2.internal");
        settings.IpAddress.Should().Be("192.0.2.7");
        settings.Port.Should().Be(7000);
        settings.AppName.Should().Be("CLUSTER-X");
        settings.Metadata.Should().Contain("zone", "eu-1").And.Contain("libcluster.node", Self.Value);
    }

    [Fact]
    public void Validate_NoServiceUrlOutsideCloudFoundry_NamesTheKey()
    {
        var errors = EurekaSettings.Validate(new EurekaStrategyOptions { AppName = "a" }, Path, FakeEnvironment.Empty);

        errors.Should().ContainSingle().Which.Should().StartWith("LibCluster:Topologies:cf:Config:ServiceUrl is required outside Cloud Foundry");
    }

    [Fact]
    public void Validate_NoAppNameOutsideCloudFoundry_NamesTheKey()
    {
        var errors = EurekaSettings.Validate(new EurekaStrategyOptions { ServiceUrl = "http://localhost:8761/eureka/" }, Path, FakeEnvironment.Empty);

        errors.Should().ContainSingle().Which.Should().StartWith($"{Path}:AppName is required outside Cloud Foundry");
    }

    [Fact]
    public void Validate_CloudFoundryBinding_NeedsNothingElse()
    {
        var errors = EurekaSettings.Validate(new EurekaStrategyOptions(), Path, new FakeEnvironment(CloudFoundryVariables(VcapServices())));

        errors.Should().BeEmpty();
    }

    [Fact]
    public void Validate_PartialOAuthClient_NamesEveryMissingKey()
    {
        var options = new EurekaStrategyOptions { ServiceUrl = "http://localhost:8761/eureka/", AppName = "a", ClientId = "x" };

        var errors = EurekaSettings.Validate(options, Path, FakeEnvironment.Empty);

        errors.Should().HaveCount(2);
        errors.Should().Contain(e => e.StartsWith($"{Path}:ClientSecret is required", StringComparison.Ordinal));
        errors.Should().Contain(e => e.StartsWith($"{Path}:AccessTokenUri is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BadValues_EachNamesItsKey()
    {
        var options = new EurekaStrategyOptions
        {
            ServiceUrl = "ftp://user:hunter2@example.com/eureka/",
            AppName = "my app",
            PollingInterval = TimeSpan.Zero,
            RenewalInterval = TimeSpan.FromSeconds(30),
            LeaseDuration = TimeSpan.FromSeconds(20),
            DeregistrationTimeout = TimeSpan.FromDays(3),
            IpAddress = "not-an-ip",
            Port = 70000,
            InstanceId = "a/b",
        };
        options.Metadata["libcluster.node"] = "x";
        options.Metadata["9bad"] = "x";

        var errors = EurekaSettings.Validate(options, Path, FakeEnvironment.Empty);

        foreach (var key in new[] { "ServiceUrl", "AppName", "PollingInterval", "LeaseDuration", "DeregistrationTimeout", "IpAddress", "Port", "InstanceId", "Metadata:libcluster.node", "Metadata:9bad" })
        {
            errors.Should().Contain(e => e.StartsWith($"{Path}:{key} ", StringComparison.Ordinal), $"{key} is wrong");
        }

        errors.Should().NotContain(e => e.Contains("hunter2", StringComparison.Ordinal), "a password in the URL is never echoed");
    }

    [Fact]
    public void Validate_MalformedVcapServices_NamesTheVariable()
    {
        var errors = EurekaSettings.Validate(
            new EurekaStrategyOptions { ServiceUrl = "http://localhost:8761/eureka/", AppName = "a" },
            Path,
            new FakeEnvironment(new Dictionary<string, string> { ["VCAP_SERVICES"] = "{\"p.service-registry\": [" }));

        errors.Should().ContainSingle().Which.Should().StartWith($"{Path}: VCAP_SERVICES is not valid JSON");
    }

    [Fact]
    public void Validate_BindingWithoutUriOrWithPartialOAuth_IsAnError()
    {
        var noUri = """{"p-service-registry":[{"label":"p-service-registry","name":"sr","tags":["eureka"],"credentials":{}}]}""";
        var partial = """{"p-service-registry":[{"label":"p-service-registry","name":"sr","credentials":{"uri":"https://x.example.com","client_id":"id"}}]}""";

        var first = EurekaSettings.Validate(new EurekaStrategyOptions { AppName = "a" }, Path, new FakeEnvironment(new Dictionary<string, string> { ["VCAP_SERVICES"] = noUri }));
        var second = EurekaSettings.Validate(new EurekaStrategyOptions { AppName = "a" }, Path, new FakeEnvironment(new Dictionary<string, string> { ["VCAP_SERVICES"] = partial }));

        first.Should().Contain(e => e.Contains("has no credentials.uri", StringComparison.Ordinal));
        second.Should().Contain(e => e.Contains("only part of an OAuth client", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_UnknownServiceBindingName_ListsTheBoundServices()
    {
        var errors = EurekaSettings.Validate(
            new EurekaStrategyOptions { ServiceBindingName = "nope" },
            Path,
            new FakeEnvironment(CloudFoundryVariables(VcapServices())));

        errors.Should().Contain(e => e.Contains("no service binding named 'nope'", StringComparison.Ordinal) && e.Contains("service-registry", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_Defaults_AreTheDocumentedOnes()
    {
        var options = new EurekaStrategyOptions();

        options.PollingInterval.Should().Be(TimeSpan.FromSeconds(10));
        options.RenewalInterval.Should().Be(TimeSpan.FromSeconds(30));
        options.LeaseDuration.Should().Be(TimeSpan.FromSeconds(90));
        options.DeregistrationTimeout.Should().Be(TimeSpan.FromSeconds(5));
        options.UseCloudFoundryBinding.Should().BeTrue();
    }
}
