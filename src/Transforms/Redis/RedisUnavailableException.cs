namespace InferenceSidecar.Redis;

/// <summary>Redis did not answer in time or at all. Carries only the failure's type name.</summary>
internal sealed class RedisUnavailableException(string reason) : Exception("Redis unavailable: " + reason)
{
    public string Reason { get; } = reason;
}
