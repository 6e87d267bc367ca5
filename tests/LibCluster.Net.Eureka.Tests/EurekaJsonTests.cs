using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LibCluster.Nodes;

namespace LibCluster.Eureka.Tests;

/// <summary>Parsing every shape real Eureka servers send, and writing what they accept.</summary>
public sealed class EurekaJsonTests
{
    private static EurekaApplications Parse(string json) => EurekaJson.ParseApplications(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void ParseApplications_SingleApplicationWithSingleInstanceObject_ReadsIt()
    {
        var result = Parse("""
            {"application":{"name":"MYAPP","instance":{"instanceId":"10.0.0.5:abc","hostName":"10.0.0.5","app":"MYAPP","ipAddr":"10.0.0.5",
             "status":"UP","overriddenStatus":"UNKNOWN","port":{"$":8080,"@enabled":"true"},
             "metadata":{"libcluster.node":"app0@10.0.0.5","libcluster.port":"9001"}}}}
            """);

        var instance = result.Instances.Should().ContainSingle().Subject;
        instance.InstanceId.Should().Be("10.0.0.5:abc");
        instance.App.Should().Be("MYAPP");
        instance.IsUp.Should().BeTrue();
        instance.Port.Should().Be(8080);
        instance.Metadata.Should().Contain("libcluster.node", "app0@10.0.0.5").And.Contain("libcluster.port", "9001");
    }

    [Fact]
    public void ParseApplications_InstancesAsArray_ReadsAll()
    {
        var result = Parse("""
            {"application":{"name":"MYAPP","instance":[
              {"instanceId":"a","app":"MYAPP","status":"UP"},
              {"instanceId":"b","app":"MYAPP","status":"DOWN"},
              {"instanceId":"c","app":"MYAPP","status":"OUT_OF_SERVICE","overriddenstatus":"OUT_OF_SERVICE"}]}}
            """);

        result.Instances.Select(i => (i.InstanceId, i.IsUp)).Should().Equal(("a", true), ("b", false), ("c", false));
    }

    [Fact]
    public void ParseApplications_NumbersAndBooleansAsStrings_AreRead()
    {
        var result = Parse("""
            {"application":{"name":"MYAPP","instance":{"instanceId":"a","app":"MYAPP","status":"UP",
             "port":{"$":"9001","@enabled":"true"},"countryId":"1","isCoordinatingDiscoveryServer":"false",
             "lastUpdatedTimestamp":"1714564800000","metadata":{"libcluster.port":9001,"flag":true}}}}
            """);

        var instance = result.Instances.Single();
        instance.Port.Should().Be(9001);
        instance.LastUpdated.Should().Be(1714564800000);
        instance.Metadata.Should().Contain("libcluster.port", "9001").And.Contain("flag", "true");
    }

    [Theory]
    [InlineData("8080")]
    [InlineData("\"8080\"")]
    [InlineData("{\"$\":8080}")]
    public void ParseApplications_PortInEveryForm_IsRead(string port)
    {
        var result = Parse("""{"application":{"name":"A","instance":{"instanceId":"a","port":""" + port + "}}}");

        result.Instances.Single().Port.Should().Be(8080);
    }

    [Fact]
    public void ParseApplications_EmptyMapMetadata_IsEmpty()
    {
        var result = Parse("""
            {"application":{"name":"MYAPP","instance":{"instanceId":"a","app":"MYAPP","status":"UP",
             "metadata":{"@class":"java.util.Collections$EmptyMap"}}}}
            """);

        result.Instances.Single().Metadata.Should().BeEmpty();
    }

    [Fact]
    public void ParseApplications_AllApplicationsWithSeveralApps_ReadsEveryInstanceWithItsApp()
    {
        var result = Parse("""
            {"applications":{"versions__delta":"1","apps__hashcode":"UP_3_","application":[
              {"name":"MYAPP","instance":[{"instanceId":"a","status":"UP"},{"instanceId":"b","app":"MYAPP","status":"UP"}]},
              {"name":"OTHER","instance":{"instanceId":"c","app":"OTHER","status":"UP"}}]}}
            """);

        result.Instances.Select(i => (i.InstanceId, i.App)).Should().Equal(("a", "MYAPP"), ("b", "MYAPP"), ("c", "OTHER"));
    }

    [Theory]
    [InlineData("""{"applications":{"versions__delta":"1","apps__hashcode":"","application":[]}}""")]
    [InlineData("""{"applications":{"versions__delta":"1","apps__hashcode":""}}""")]
    [InlineData("""{"applications":{"application":""}}""")]
    [InlineData("""{"application":{"name":"MYAPP"}}""")]
    [InlineData("""{"application":{"name":"MYAPP","instance":[]}}""")]
    [InlineData("""{"application":{"name":"MYAPP","instance":null}}""")]
    public void ParseApplications_NoInstances_IsEmpty(string json)
    {
        var result = Parse(json);

        result.Instances.Should().BeEmpty();
        result.Skipped.Should().BeEmpty();
    }

    [Fact]
    public void ParseApplications_OldServerWithoutInstanceId_UsesHostName_AndSkipsAnonymousInstances()
    {
        var result = Parse("""
            {"application":{"name":"MYAPP","instance":[
              {"hostName":"10.0.0.7","app":"MYAPP","status":"UP"},
              {"app":"MYAPP","status":"UP"},
              42]}}
            """);

        result.Instances.Select(i => i.InstanceId).Should().Equal("10.0.0.7");
        result.Skipped.Should().HaveCount(2);
    }

    [Fact]
    public void ParseApplications_UnknownFieldsAndMissingStatus_AreTolerated()
    {
        var result = Parse("""
            {"application":{"name":"MYAPP","instance":{"instanceId":"a","app":"MYAPP","somethingNew":{"x":[1,2,3]},
             "metadata":"not a map"}}}
            """);

        var instance = result.Instances.Single();
        instance.Status.Should().Be("UNKNOWN");
        instance.IsUp.Should().BeFalse();
        instance.Metadata.Should().BeEmpty();
    }

    [Theory]
    [InlineData("<!DOCTYPE html><html><body>Login</body></html>")]
    [InlineData("""{"application":{"name":"MYAPP","instance":[{"instanceId":"a" """)]
    [InlineData("[]")]
    [InlineData("\"UP\"")]
    [InlineData("""{"status":"ok"}""")]
    [InlineData("""{"application":{"name":"MYAPP","instance":42}}""")]
    [InlineData("""{"applications":"everything"}""")]
    [InlineData("")]
    public void ParseApplications_NotEurekaJson_ThrowsFormatException(string body)
    {
        var parse = () => Parse(body);

        parse.Should().Throw<FormatException>();
    }

    [Fact]
    public void WriteRegistration_Node_HasEveryFieldTheServerRequires()
    {
        var settings = new EurekaSettings
        {
            ServiceUrl = new Uri("http://127.0.0.1:8761/eureka/"),
            Source = "configuration",
            AppName = "MY-APP",
            VipAddress = "my-app",
            InstanceId = "app0@10.0.0.5:9001",
            HostName = "10.0.0.5",
            IpAddress = "10.0.0.5",
            Port = 9001,
            DistPort = 9001,
            Metadata = new Dictionary<string, string> { ["libcluster.node"] = "app0@10.0.0.5", ["libcluster.port"] = "9001" },
            PollingInterval = TimeSpan.FromSeconds(10),
            RenewalInterval = TimeSpan.FromMilliseconds(300),
            LeaseDuration = TimeSpan.FromSeconds(2.5),
            DeregistrationTimeout = TimeSpan.FromSeconds(5),
        };

        var json = JsonNode.Parse(EurekaJson.WriteRegistration(settings, 1714564800000))!["instance"]!;

        json["instanceId"]!.GetValue<string>().Should().Be("app0@10.0.0.5:9001");
        json["app"]!.GetValue<string>().Should().Be("MY-APP");
        json["hostName"]!.GetValue<string>().Should().Be("10.0.0.5");
        json["ipAddr"]!.GetValue<string>().Should().Be("10.0.0.5");
        json["status"]!.GetValue<string>().Should().Be("UP");
        json["port"]!["$"]!.GetValue<int>().Should().Be(9001);
        json["port"]!["@enabled"]!.GetValue<string>().Should().Be("true");
        json["dataCenterInfo"]!["@class"]!.GetValue<string>().Should().Be("com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo");
        json["dataCenterInfo"]!["name"]!.GetValue<string>().Should().Be("MyOwn");
        json["leaseInfo"]!["renewalIntervalInSecs"]!.GetValue<int>().Should().Be(1, "sub-second intervals round up to whole seconds");
        json["leaseInfo"]!["durationInSecs"]!.GetValue<int>().Should().Be(3);
        json["vipAddress"]!.GetValue<string>().Should().Be("my-app");
        json["metadata"]!["libcluster.node"]!.GetValue<string>().Should().Be("app0@10.0.0.5");
        json["metadata"]!["libcluster.port"]!.GetValue<string>().Should().Be("9001");
        json["lastDirtyTimestamp"]!.GetValue<string>().Should().Be("1714564800000");
    }

    [Fact]
    public void WriteThenParse_RoundTrip_GivesTheNodeBack()
    {
        var node = NodeName.Parse("app1@10.0.0.6");
        var settings = new EurekaSettings
        {
            ServiceUrl = new Uri("http://127.0.0.1:8761/eureka/"),
            Source = "configuration",
            AppName = "MY-APP",
            VipAddress = "my-app",
            InstanceId = "i-1",
            HostName = node.Host,
            IpAddress = node.Host,
            Port = 8080,
            DistPort = 9002,
            Metadata = new Dictionary<string, string> { ["libcluster.node"] = node.Value, ["libcluster.port"] = "9002" },
            PollingInterval = TimeSpan.FromSeconds(10),
            RenewalInterval = TimeSpan.FromSeconds(30),
            LeaseDuration = TimeSpan.FromSeconds(90),
            DeregistrationTimeout = TimeSpan.FromSeconds(5),
        };
        var registration = JsonNode.Parse(EurekaJson.WriteRegistration(settings, 0))!["instance"]!.DeepClone();

        var answer = new JsonObject { ["application"] = new JsonObject { ["name"] = "MY-APP", ["instance"] = registration } };
        var instance = Parse(answer.ToJsonString()).Instances.Single();

        instance.Metadata["libcluster.node"].Should().Be(node.Value);
        instance.Port.Should().Be(8080);
    }

    [Theory]
    [InlineData("""{"access_token":"t0k","token_type":"bearer","expires_in":43199}""", 43199.0)]
    [InlineData("""{"access_token":"t0k","token_type":"Bearer","expires_in":"60"}""", 60.0)]
    [InlineData("""{"access_token":"t0k"}""", null)]
    public void ParseTokenResponse_ExpiresInAsNumberStringOrMissing_IsRead(string json, double? seconds)
    {
        var (token, lifetime) = OAuthTokenProvider.ParseTokenResponse(Encoding.UTF8.GetBytes(json), "the token endpoint");

        token.Should().Be("t0k");
        lifetime.Should().Be(seconds is { } s ? TimeSpan.FromSeconds(s) : null);
    }

    [Theory]
    [InlineData("""{"token_type":"bearer","expires_in":1,"leaked":"secret-token-value"}""")]
    [InlineData("""<html>secret-token-value</html>""")]
    [InlineData("""{"access_token":"secret-token-value","token_type":"mac"}""")]
    public void ParseTokenResponse_Unusable_ThrowsWithoutQuotingTheBody(string json)
    {
        var parse = () => OAuthTokenProvider.ParseTokenResponse(Encoding.UTF8.GetBytes(json), "the token endpoint");

        parse.Should().Throw<EurekaException>().Which.Message.Should().NotContain("secret-token-value");
    }

    [Fact]
    public void ParseApplications_DeeplyNestedGarbage_IsAFormatExceptionNotACrash()
    {
        var json = "{\"application\":" + string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200)) + "}";

        var parse = () => Parse(json);

        parse.Should().Throw<FormatException>().WithInnerException<JsonException>();
    }
}
