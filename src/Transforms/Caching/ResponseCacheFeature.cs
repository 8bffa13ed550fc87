namespace InferenceSidecar.Caching;

/// <summary>Set by the response cache on routes that cache: hit, miss or bypass, and on a hit the usage the original response reported.</summary>
internal sealed class ResponseCacheFeature
{
    public required string Result { get; set; }

    public (long Input, long Output)? HitUsage { get; set; }

    public static string? ResultOf(HttpContext context) => context.Features.Lookup<ResponseCacheFeature>()?.Result;

    public static (long Input, long Output)? HitUsageOf(HttpContext context) => context.Features.Lookup<ResponseCacheFeature>()?.HitUsage;
}
