using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace LibCluster.Eureka.Tests;

/// <summary>The stand-in registry behaves as the real one does where the client depends on it.</summary>
public sealed class FakeEurekaServerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static StringContent Registration(string app, string id, int leaseSeconds = 90) => new(
        $$$"""
        {"instance":{"instanceId":"{{{id}}}","app":"{{{app}}}","hostName":"127.0.0.1","ipAddr":"127.0.0.1","status":"UP",
         "port":{"$":9001,"@enabled":"true"},
         "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
         "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":{{{leaseSeconds}}}},"vipAddress":"{{{app}}}"}}
        """,
        Encoding.UTF8,
        "application/json");

    [Fact]
    public async Task Register_LowerCaseApp_Answers204AndStoresItUpperCased()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };

        using var response = await http.PostAsync("apps/myapp", Registration("myapp", "a:1")).WaitAsync(Timeout);

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        server.Instances("MYAPP").Should().ContainSingle().Which.App.Should().Be("MYAPP");
    }

    [Fact]
    public async Task Register_WithoutDataCenterInfo_Answers400()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };
        using var body = new StringContent("""{"instance":{"instanceId":"a","app":"X","hostName":"h","ipAddr":"1.2.3.4"}}""", Encoding.UTF8, "application/json");

        using var response = await http.PostAsync("apps/x", body).WaitAsync(Timeout);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Renew_UnknownInstance_Answers404_AndKnownOne200()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };
        (await http.PostAsync("apps/myapp", Registration("myapp", "a:1")).WaitAsync(Timeout)).Dispose();

        using var known = await http.PutAsync("apps/MYAPP/a:1", null).WaitAsync(Timeout);
        using var unknown = await http.PutAsync("apps/MYAPP/b:2", null).WaitAsync(Timeout);

        known.StatusCode.Should().Be(HttpStatusCode.OK);
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task GetApplication_WithoutJsonAccept_AnswersXml()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("myapp", "a:1");
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };

        using var response = await http.GetAsync("apps/MYAPP").WaitAsync(Timeout);

        response.Content.Headers.ContentType!.MediaType.Should().Be("application/xml");
        (await response.Content.ReadAsStringAsync().WaitAsync(Timeout)).Should().Contain("<application><name>MYAPP</name>");
    }

    [Fact]
    public async Task GetApplication_OneInstanceAsJson_IsAnObjectWithStringsAndEmptyMap()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("myapp", "a:1");
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };
        using var request = new HttpRequestMessage(HttpMethod.Get, "apps/MYAPP");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        using var response = await http.SendAsync(request).WaitAsync(Timeout);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync().WaitAsync(Timeout))!;

        var instance = json["application"]!["instance"]!;
        instance.Should().BeOfType<JsonObject>();
        instance["port"]!["$"]!.GetValue<string>().Should().Be("8080");
        instance["isCoordinatingDiscoveryServer"]!.GetValue<string>().Should().Be("false");
        instance["metadata"]!["@class"]!.GetValue<string>().Should().Be("java.util.Collections$EmptyMap");
    }

    [Fact]
    public async Task GetApplication_Unknown_Answers404WithoutBody()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };

        using var response = await http.GetAsync("apps/NOPE").WaitAsync(Timeout);

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await response.Content.ReadAsByteArrayAsync().WaitAsync(Timeout)).Should().BeEmpty();
    }

    [Fact]
    public async Task Lease_NotRenewedWithinItsDuration_InstanceIsEvicted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2024-05-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { TimeProvider = time });
        using var http = new HttpClient { BaseAddress = server.ServiceUrl };
        (await http.PostAsync("apps/myapp", Registration("myapp", "renewed", leaseSeconds: 10)).WaitAsync(Timeout)).Dispose();
        (await http.PostAsync("apps/myapp", Registration("myapp", "forgotten", leaseSeconds: 10)).WaitAsync(Timeout)).Dispose();

        time.Advance(TimeSpan.FromSeconds(8));
        (await http.PutAsync("apps/MYAPP/renewed", null).WaitAsync(Timeout)).Dispose();
        time.Advance(TimeSpan.FromSeconds(8));

        server.Instances("MYAPP").Select(i => i.InstanceId).Should().Equal("renewed");
        using var renewLate = await http.PutAsync("apps/MYAPP/forgotten", null).WaitAsync(Timeout);
        renewLate.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task OAuth_MissingWrongAndExpiredTokens_AreRefused()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2024-05-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { TimeProvider = time, RequireOAuth = true, TokenLifetime = TimeSpan.FromMinutes(5) });
        using var http = new HttpClient();

        using var anonymous = await http.GetAsync(new Uri(server.ServiceUrl, "apps")).WaitAsync(Timeout);
        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        using var badGrant = new HttpRequestMessage(HttpMethod.Post, server.TokenUri) { Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]) };
        badGrant.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.Options.ClientId}:wrong")));
        using var refused = await http.SendAsync(badGrant).WaitAsync(Timeout);
        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        using var grant = new HttpRequestMessage(HttpMethod.Post, server.TokenUri) { Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]) };
        grant.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.Options.ClientId}:{server.Options.ClientSecret}")));
        using var granted = await http.SendAsync(grant).WaitAsync(Timeout);
        var token = JsonNode.Parse(await granted.Content.ReadAsStringAsync().WaitAsync(Timeout))!["access_token"]!.GetValue<string>();

        async Task<HttpStatusCode> GetWithTokenAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.ServiceUrl, "apps"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request).WaitAsync(Timeout);
            return response.StatusCode;
        }

        (await GetWithTokenAsync()).Should().Be(HttpStatusCode.OK);
        time.Advance(TimeSpan.FromMinutes(6));
        (await GetWithTokenAsync()).Should().Be(HttpStatusCode.Unauthorized);
    }
}
