using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Polly.Timeout;

namespace LibCluster.Eureka;

/// <summary>
/// The Eureka REST operations one node needs: register, renew, deregister, and read its application's instances.
/// Every request asks for JSON (servers answer XML otherwise) and carries the credentials: a bearer token (renewed
/// once when the registry answers 401) or HTTP Basic from the service URL. Transport failures, timeouts and answers
/// that make no sense are thrown as <see cref="EurekaException"/>; retries with backoff on network errors and 5xx
/// happen below, in the named client's resilience handler.
/// </summary>
internal sealed class EurekaClient
{
    public const string JsonMediaType = "application/json";

    private const int SnippetLength = 160;

    private readonly HttpClient _http;
    private readonly EurekaSettings _settings;
    private readonly OAuthTokenProvider? _tokens;
    private readonly Uri _applicationUri;
    private readonly Uri _instanceUri;

    public EurekaClient(HttpClient http, EurekaSettings settings, OAuthTokenProvider? tokens)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(settings);
        _http = http;
        _settings = settings;
        _tokens = tokens;
        _applicationUri = new Uri(settings.ServiceUrl, "apps/" + Uri.EscapeDataString(settings.AppName));
        _instanceUri = new Uri(settings.ServiceUrl, "apps/" + Uri.EscapeDataString(settings.AppName) + "/" + Uri.EscapeDataString(settings.InstanceId));
    }

    /// <summary><c>GET apps/{APP}</c>, for the logs.</summary>
    public Uri ApplicationUri => _applicationUri;

    /// <summary><c>POST apps/{APP}</c>: registers (or replaces) this instance. Success is 204 (some servers say 200).</summary>
    public async Task RegisterAsync(long timestampMilliseconds, CancellationToken cancellationToken)
    {
        var body = EurekaJson.WriteRegistration(_settings, timestampMilliseconds);
        var response = await SendAsync(HttpMethod.Post, _applicationUri, body, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.OK)
        {
            return;
        }

        throw Unexpected(response, "POST", _applicationUri, response.StatusCode == HttpStatusCode.NotFound
            ? " Is ServiceUrl right? Spring Cloud's registry is at .../eureka/, Netflix's at .../eureka/v2/."
            : string.Empty);
    }

    /// <summary><c>PUT apps/{APP}/{id}</c>: the heartbeat. False when the registry does not know the instance (404): register again.</summary>
    public async Task<bool> RenewAsync(long lastDirtyTimestampMilliseconds, CancellationToken cancellationToken)
    {
        var uri = new Uri(_instanceUri.AbsoluteUri + "?status=UP&lastDirtyTimestamp=" + lastDirtyTimestampMilliseconds.ToString(CultureInfo.InvariantCulture));
        var response = await SendAsync(HttpMethod.Put, uri, null, cancellationToken).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.OK or HttpStatusCode.NoContent => true,
            HttpStatusCode.NotFound => false,
            _ => throw Unexpected(response, "PUT", _instanceUri, string.Empty),
        };
    }

    /// <summary><c>DELETE apps/{APP}/{id}</c>. False when the registry did not know the instance (404).</summary>
    public async Task<bool> DeregisterAsync(CancellationToken cancellationToken)
    {
        var response = await SendAsync(HttpMethod.Delete, _instanceUri, null, cancellationToken).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.OK or HttpStatusCode.NoContent => true,
            HttpStatusCode.NotFound => false,
            _ => throw Unexpected(response, "DELETE", _instanceUri, string.Empty),
        };
    }

    /// <summary>
    /// <c>GET apps/{APP}</c>: the application's instances. A bodiless 404 is Eureka's "no such application": no
    /// instances. A 404 with a body (a router's or framework's error page) is a failure: the URL is probably wrong.
    /// </summary>
    public async Task<EurekaApplications> FetchAsync(CancellationToken cancellationToken)
    {
        var response = await SendAsync(HttpMethod.Get, _applicationUri, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound && IsBlank(response.Body))
        {
            return new EurekaApplications([], []);
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw Unexpected(response, "GET", _applicationUri, string.Empty);
        }

        if (response.MediaType is { } mediaType && !mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new EurekaException(
                $"GET {_applicationUri} answered 200 with {mediaType}, not JSON.{SnippetOf(response.Body)}",
                EurekaFailure.BadResponse);
        }

        try
        {
            return EurekaJson.ParseApplications(response.Body);
        }
        catch (FormatException ex)
        {
            throw new EurekaException($"GET {_applicationUri} answered 200 with a body that is not Eureka JSON: {ex.Message}{SnippetOf(response.Body)}", EurekaFailure.BadResponse, ex);
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and buffers the answer, turning transport failures and timeouts into
    /// <see cref="EurekaException"/> (<see cref="EurekaFailure.Unreachable"/>). Cancellation by the caller stays an
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    internal static async Task<HttpResponseMessage> SendBufferedAsync(HttpClient http, HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new EurekaException($"{what} could not be reached: {ex.Message}", EurekaFailure.Unreachable, ex);
        }
        catch (TimeoutRejectedException ex)
        {
            throw new EurekaException($"{what} did not answer in time ({ex.Timeout.TotalSeconds:0.#} s).", EurekaFailure.Unreachable, ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EurekaException($"{what} did not answer in time.", EurekaFailure.Unreachable, ex);
        }
    }

    private async Task<EurekaResponse> SendAsync(HttpMethod method, Uri uri, byte[]? body, CancellationToken cancellationToken)
    {
        var token = _tokens is null ? null : await _tokens.GetTokenAsync(cancellationToken).ConfigureAwait(false);
        var response = await SendOnceAsync(method, uri, body, token, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized && _tokens is not null)
        {
            // The token expired early or was revoked: get another one and try once more.
            _tokens.Invalidate(token!);
            token = await _tokens.GetTokenAsync(cancellationToken).ConfigureAwait(false);
            response = await SendOnceAsync(method, uri, body, token, cancellationToken).ConfigureAwait(false);
        }

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var hint = _tokens is not null
                ? " even with a fresh OAuth token; check the client's authorities"
                : _settings.BasicCredentials is not null
                    ? "; check the user and password in ServiceUrl"
                    : "; it wants credentials: set ClientId, ClientSecret and AccessTokenUri, or bind the service registry on Cloud Foundry";
            throw new EurekaException($"{method} {StripQuery(uri)} answered {(int)response.StatusCode} {response.ReasonPhrase}{hint}.", EurekaFailure.Unauthorized);
        }

        return response;
    }

    private async Task<EurekaResponse> SendOnceAsync(HttpMethod method, Uri uri, byte[]? body, string? token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(JsonMediaType));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (_settings.BasicCredentials is { } basic)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        }

        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(JsonMediaType);
        }

        var what = $"{method} {StripQuery(uri)}";
        using var response = await SendBufferedAsync(_http, request, what, cancellationToken).ConfigureAwait(false);
        byte[] content;
        try
        {
            content = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new EurekaException($"{what}: reading the answer failed: {ex.Message}", EurekaFailure.Unreachable, ex);
        }

        return new EurekaResponse(response.StatusCode, response.ReasonPhrase, response.Content.Headers.ContentType?.MediaType, content);
    }

    private static EurekaException Unexpected(EurekaResponse response, string method, Uri uri, string hint)
    {
        var status = (int)response.StatusCode;
        var failure = status >= 500 ? EurekaFailure.Unavailable : EurekaFailure.BadResponse;
        return new EurekaException($"{method} {uri} answered {status} {response.ReasonPhrase}.{hint}{SnippetOf(response.Body)}", failure);
    }

    private static string StripQuery(Uri uri) => uri.GetLeftPart(UriPartial.Path);

    private static bool IsBlank(byte[] body) => body.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n');

    /// <summary>The start of a body, on one line, for error messages: enough to tell an HTML error page from JSON.</summary>
    internal static string SnippetOf(byte[] body)
    {
        if (IsBlank(body))
        {
            return string.Empty;
        }

        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, SnippetLength * 4));
        var builder = new StringBuilder(SnippetLength + 8);
        var space = false;
        foreach (var c in text)
        {
            if (builder.Length >= SnippetLength)
            {
                builder.Append("...");
                break;
            }

            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                space = builder.Length > 0;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            builder.Append(c);
        }

        return $" Body: {builder}";
    }

    private sealed record EurekaResponse(HttpStatusCode StatusCode, string? ReasonPhrase, string? MediaType, byte[] Body);
}
