using System.Globalization;
using Microsoft.Extensions.Time.Testing;

namespace LibCluster.Eureka.Tests;

/// <summary>Token caching against the stand-in's token endpoint, with one fake clock for both sides.</summary>
public sealed class OAuthTokenProviderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static async Task<(FakeEurekaServer Server, FakeTimeProvider Time)> StartAsync(TimeSpan lifetime)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2024-05-01T12:00:00Z", CultureInfo.InvariantCulture));
        var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { TimeProvider = time, RequireOAuth = true, TokenLifetime = lifetime });
        return (server, time);
    }

    private static OAuthTokenProvider Provider(HttpClient http, FakeEurekaServer server, TimeProvider time, string? secret = null) => new(
        http,
        new OAuthClientSettings { TokenUri = server.TokenUri, ClientId = server.Options.ClientId, ClientSecret = secret ?? server.Options.ClientSecret },
        time);

    [Fact]
    public async Task GetTokenAsync_BeforeAndAfterTheRefreshPoint_CachesThenRenews()
    {
        var (server, time) = await StartAsync(TimeSpan.FromSeconds(100));
        await using var _ = server;
        using var http = new HttpClient();
        using var tokens = Provider(http, server, time);

        var first = await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        time.Advance(TimeSpan.FromSeconds(79));
        var cached = await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        time.Advance(TimeSpan.FromSeconds(2));
        var renewed = await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        cached.Should().Be(first, "a token is reused until a fifth of its lifetime before it expires");
        renewed.Should().NotBe(first, "after 80 of 100 seconds it is renewed before it can expire in flight");
        server.Count("token").Should().Be(2);
    }

    [Fact]
    public async Task GetTokenAsync_LongLivedToken_RenewsAMinuteEarly()
    {
        var (server, time) = await StartAsync(TimeSpan.FromSeconds(43199));
        await using var _ = server;
        using var http = new HttpClient();
        using var tokens = Provider(http, server, time);

        await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        time.Advance(TimeSpan.FromSeconds(43199 - 61));
        await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        server.Count("token").Should().Be(1);
        time.Advance(TimeSpan.FromSeconds(2));
        await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        server.Count("token").Should().Be(2);
    }

    [Fact]
    public async Task Invalidate_TheCurrentToken_NextCallFetchesAnother()
    {
        var (server, time) = await StartAsync(TimeSpan.FromHours(1));
        await using var _ = server;
        using var http = new HttpClient();
        using var tokens = Provider(http, server, time);
        var first = await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        tokens.Invalidate("some-older-token");
        var same = await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        tokens.Invalidate(first);
        var next = await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        same.Should().Be(first, "invalidating a token that was already replaced changes nothing");
        next.Should().NotBe(first);
        server.Count("token").Should().Be(2);
    }

    [Fact]
    public async Task GetTokenAsync_ManyCallersAtOnce_ShareOneRequest()
    {
        var (server, time) = await StartAsync(TimeSpan.FromHours(1));
        await using var _ = server;
        using var http = new HttpClient();
        using var tokens = Provider(http, server, time);

        var all = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => tokens.GetTokenAsync(CancellationToken.None).AsTask())).WaitAsync(Timeout);

        all.Distinct().Should().ContainSingle();
        server.Count("token").Should().Be(1);
    }

    [Fact]
    public async Task GetTokenAsync_WrongSecret_ThrowsUnauthorizedWithoutTheSecret()
    {
        var (server, time) = await StartAsync(TimeSpan.FromHours(1));
        await using var _ = server;
        using var http = new HttpClient();
        using var tokens = Provider(http, server, time, secret: "not-the-secret-0123456789");

        var get = async () => await tokens.GetTokenAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        var thrown = (await get.Should().ThrowAsync<EurekaException>()).Which;
        thrown.Failure.Should().Be(EurekaFailure.Unauthorized);
        thrown.Message.Should().Contain(server.Options.ClientId).And.NotContain("not-the-secret-0123456789");
    }
}
