using System.Net.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Telemetry;
using Polly.Timeout;

namespace LibCluster.Eureka;

/// <summary>
/// The named <see cref="HttpClient"/> the strategy talks to the registry and the token endpoint with, and its
/// resilience: a total timeout, retries with exponential backoff and jitter on network errors, timeouts and 5xx (never
/// on 4xx, and without honouring <c>Retry-After</c>, which could stall a poll for minutes), and a timeout per attempt.
/// Polly's delays use the <see cref="TimeProvider"/> registered in the container, the same one the topology context gets.
/// </summary>
internal static class EurekaHttp
{
    public const string ClientName = "LibCluster.Eureka";

    /// <summary>The largest answer read; Eureka's for one application is a few kilobytes per instance.</summary>
    public const int MaxResponseBytes = 16 * 1024 * 1024;

    public static readonly TimeSpan TotalTimeout = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan RetryBaseDelay = TimeSpan.FromMilliseconds(200);

    public const int MaxRetryAttempts = 2;

    public static IHttpClientBuilder AddEurekaHttpClient(this IServiceCollection services)
    {
        var builder = services.AddHttpClient(ClientName, static client =>
        {
            client.MaxResponseContentBufferSize = MaxResponseBytes;
            client.DefaultRequestHeaders.UserAgent.ParseAdd("LibCluster.Net.Eureka/" + (typeof(EurekaHttp).Assembly.GetName().Version?.ToString(3) ?? "0"));
        });

        // The strategy logs what matters once per outage; the client's per-request Information logs (every poll)
        // would drown that. Whoever wants them back calls AddDefaultLogger() on this client: tokens and Basic
        // credentials travel in Authorization, so no header value is logged even then.
        builder.RemoveAllLoggers();
        builder.RedactLoggedHeaders(static _ => true);
        builder.AddResilienceHandler(ClientName, static (pipeline, context) =>
        {
            // Polly logs every attempt (Information, Warning when handled): per poll, not per outage. Keep its telemetry
            // (metrics, enrichers) but log its events at Debug.
            var configured = context.ServiceProvider.GetService<IOptions<TelemetryOptions>>()?.Value;
            var telemetry = configured is null ? new TelemetryOptions() : new TelemetryOptions(configured);
            telemetry.LoggerFactory = context.ServiceProvider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            telemetry.SeverityProvider = static _ => ResilienceEventSeverity.Debug;
            pipeline.ConfigureTelemetry(telemetry);

            pipeline
                .AddTimeout(TotalTimeout)
                .AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = MaxRetryAttempts,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = RetryBaseDelay,
                    ShouldRetryAfterHeader = false,
                    ShouldHandle = static args => ValueTask.FromResult(IsTransient(args.Outcome)),
                    OnRetry = static args =>
                    {
                        args.Outcome.Result?.Dispose();
                        return default;
                    },
                })
                .AddTimeout(AttemptTimeout);
        });
        return builder;
    }

    /// <summary>Worth another attempt: no answer, a timed-out attempt, or a 5xx. Never a 4xx, never the caller's cancellation.</summary>
    internal static bool IsTransient(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: HttpRequestException or TimeoutRejectedException } => true,
        { Result: { } response } => (int)response.StatusCode >= 500,
        _ => false,
    };
}
