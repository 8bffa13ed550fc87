namespace InferenceSidecar.Configuration;

internal enum FailureMode
{
    /// <summary>Keep serving with a local limiter at limit ÷ <c>ExpectedReplicas</c>.</summary>
    Open,

    /// <summary>Refuse with 503 and <c>Retry-After</c> until Redis is back.</summary>
    Closed,
}
