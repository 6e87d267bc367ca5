using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LibCluster.Eureka;

/// <summary>
/// Gets OAuth2 access tokens with the client-credentials grant (<c>client_id</c>/<c>client_secret</c> as HTTP Basic,
/// body <c>grant_type=client_credentials</c>), as Spring Cloud Services' registry on Cloud Foundry wants. A token is
/// cached until shortly before it expires (a fifth of its lifetime, at most a minute, early) and dropped when the
/// registry answers 401 to it. Neither the secret nor a token ever goes into a message or a log.
/// </summary>
internal sealed class OAuthTokenProvider : IDisposable
{
    private static readonly TimeSpan MaxRefreshMargin = TimeSpan.FromMinutes(1);

    private readonly HttpClient _http;
    private readonly OAuthClientSettings _client;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly Lock _gate = new();
    private string? _token;
    private long _refreshAt;

    public OAuthTokenProvider(HttpClient http, OAuthClientSettings client, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(time);
        _http = http;
        _client = client;
        _time = time;
    }

    /// <summary>The cached token, or a new one. Concurrent callers share one request to the token endpoint.</summary>
    /// <exception cref="EurekaException">The token endpoint could not be reached or refused the client.</exception>
    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (TryGetCached(out var token))
        {
            return token;
        }

        await _fetching.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return TryGetCached(out token) ? token : await FetchAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _fetching.Release();
        }
    }

    /// <summary>Forgets <paramref name="token"/> (the registry refused it), unless a newer one has replaced it already.</summary>
    public void Invalidate(string token)
    {
        lock (_gate)
        {
            if (string.Equals(_token, token, StringComparison.Ordinal))
            {
                _token = null;
            }
        }
    }

    public void Dispose() => _fetching.Dispose();

    private bool TryGetCached([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? token)
    {
        lock (_gate)
        {
            token = _token;
            return token is not null && _time.GetTimestamp() < _refreshAt;
        }
    }

    private async Task<string> FetchAsync(CancellationToken cancellationToken)
    {
        var requested = _time.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, _client.TokenUri)
        {
            Content = new FormUrlEncodedContent([new KeyValuePair<string, string>("grant_type", "client_credentials")]),
        };

        // As Steeltoe and Spring send them against UAA: the raw id and secret, Base64-encoded.
        request.Headers.Authorization = new AuthenticationHeaderValue(
            "Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_client.ClientId}:{_client.ClientSecret}")));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(EurekaClient.JsonMediaType));

        var what = $"the token endpoint {_client.TokenUri}";
        using var response = await EurekaClient.SendBufferedAsync(_http, request, what, cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.BadRequest)
        {
            throw new EurekaException(
                $"{what} refused the credentials of OAuth client '{_client.ClientId}' ({status} {response.ReasonPhrase}); check the client id and secret.",
                EurekaFailure.Unauthorized);
        }

        if (status >= 500)
        {
            throw new EurekaException($"{what} answered {status} {response.ReasonPhrase}.", EurekaFailure.Unavailable);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new EurekaException($"{what} answered {status} {response.ReasonPhrase} to the client-credentials grant.", EurekaFailure.BadResponse);
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var (token, lifetime) = ParseTokenResponse(body, what);
        lock (_gate)
        {
            _token = token;
            _refreshAt = lifetime is { } life
                ? requested + (long)((life - Margin(life)).TotalSeconds * _time.TimestampFrequency)
                : long.MaxValue;
        }

        return token;
    }

    private static TimeSpan Margin(TimeSpan lifetime)
    {
        var fifth = lifetime / 5;
        return fifth < MaxRefreshMargin ? fifth : MaxRefreshMargin;
    }

    /// <summary>Reads <c>access_token</c> and <c>expires_in</c> (a number or a string of seconds; absent means "until refused").</summary>
    internal static (string Token, TimeSpan? Lifetime) ParseTokenResponse(byte[] body, string what)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("access_token", out var tokenElement)
                || tokenElement.ValueKind != JsonValueKind.String
                || string.IsNullOrEmpty(tokenElement.GetString()))
            {
                // The body is not quoted: it might hold a token after all.
                throw new EurekaException($"{what} answered without an access_token.", EurekaFailure.BadResponse);
            }

            if (root.TryGetProperty("token_type", out var type) && type.ValueKind == JsonValueKind.String
                && !string.Equals(type.GetString(), "bearer", StringComparison.OrdinalIgnoreCase))
            {
                throw new EurekaException($"{what} issued a '{type.GetString()}' token, not a bearer token.", EurekaFailure.BadResponse);
            }

            TimeSpan? lifetime = null;
            if (root.TryGetProperty("expires_in", out var expires))
            {
                var text = expires.ValueKind switch
                {
                    JsonValueKind.Number => expires.GetRawText(),
                    JsonValueKind.String => expires.GetString(),
                    _ => null,
                };
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds < TimeSpan.MaxValue.TotalSeconds / 2)
                {
                    lifetime = TimeSpan.FromSeconds(seconds);
                }
            }

            return (tokenElement.GetString()!, lifetime);
        }
        catch (JsonException)
        {
            throw new EurekaException($"{what} answered with a body that is not JSON.", EurekaFailure.BadResponse);
        }
    }
}
