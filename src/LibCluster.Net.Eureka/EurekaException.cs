namespace LibCluster.Eureka;

/// <summary>How a request to the registry or the token endpoint failed; also the <c>reason</c> tag of the failure metric.</summary>
internal enum EurekaFailure
{
    /// <summary>No answer: connection refused or reset, DNS failure, timeout.</summary>
    Unreachable,

    /// <summary>A 5xx answer, after the retries.</summary>
    Unavailable,

    /// <summary>The credentials were rejected: a 401 or 403 with a fresh token, or the token endpoint refused the client.</summary>
    Unauthorized,

    /// <summary>An answer that makes no sense: not JSON, HTML, an unexpected status code.</summary>
    BadResponse,
}

/// <summary>A request to the registry or its token endpoint failed. The message never holds secrets or tokens.</summary>
internal sealed class EurekaException : Exception
{
    public EurekaException()
        : this("A request to the Eureka registry failed.")
    {
    }

    public EurekaException(string message)
        : this(message, EurekaFailure.BadResponse)
    {
    }

    public EurekaException(string message, Exception innerException)
        : this(message, EurekaFailure.Unreachable, innerException)
    {
    }

    public EurekaException(string message, EurekaFailure failure, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public EurekaFailure Failure { get; }

    /// <summary>The metric tag for the failure.</summary>
    public string Reason => ReasonOf(Failure);

    public static string ReasonOf(EurekaFailure failure) => failure switch
    {
        EurekaFailure.Unreachable => "unreachable",
        EurekaFailure.Unavailable => "unavailable",
        EurekaFailure.Unauthorized => "unauthorized",
        _ => "bad_response",
    };
}
