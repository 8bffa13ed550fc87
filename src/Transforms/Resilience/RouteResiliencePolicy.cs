using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Resilience;

/// <summary>
/// A route's timeouts, retries and fallbacks, from its YARP route <c>Metadata</c>: <c>ResponseHeadersTimeout</c>
/// (default 5 min: a non-streamed completion sends headers only when done), <c>IdleTimeout</c> between stream chunks
/// (default 1 min), <c>TotalTimeout</c> (default 10 min), <c>Retries</c> (attempts in all, default 3),
/// <c>RetryBudget</c> (default 10 s) and <c>Fallback</c> (comma-separated cluster ids, tried in order).
/// </summary>
internal sealed record RouteResiliencePolicy(
    TimeSpan ResponseHeadersTimeout,
    TimeSpan IdleTimeout,
    TimeSpan TotalTimeout,
    int Attempts,
    TimeSpan RetryBudget,
    string[] Fallback)
{
    public static readonly RouteResiliencePolicy Default = new(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10), 3, TimeSpan.FromSeconds(10), []);

    private static readonly ConditionalWeakTable<RouteConfig, RouteResiliencePolicy> Parsed = [];

    public static RouteResiliencePolicy For(RouteConfig route) =>
        Parsed.GetValue(route, static r => TryParse(r.Metadata, out var policy, out _) ? policy : Default);

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out RouteResiliencePolicy policy, out string error)
    {
        policy = Default;
        error = string.Empty;
        if (metadata is null)
        {
            return true;
        }

        if (!Duration(metadata, "ResponseHeadersTimeout", Default.ResponseHeadersTimeout, out var headers, ref error)
            || !Duration(metadata, "IdleTimeout", Default.IdleTimeout, out var idle, ref error)
            || !Duration(metadata, "TotalTimeout", Default.TotalTimeout, out var total, ref error)
            || !Duration(metadata, "RetryBudget", Default.RetryBudget, out var budget, ref error))
        {
            return false;
        }

        if (!MetadataValues.TryCount(metadata, "Retries", Default.Attempts, 1, 10, out var attempts))
        {
            error = "Metadata:Retries must be the number of attempts in all, 1 to 10.";
            return false;
        }

        var fallback = metadata.TryGetValue("Fallback", out var list)
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [];
        policy = new RouteResiliencePolicy(headers, idle, total, attempts, budget, fallback);
        return true;
    }

    private static bool Duration(IReadOnlyDictionary<string, string> metadata, string key, TimeSpan fallback, out TimeSpan value, ref string error)
    {
        if (MetadataValues.TryDuration(metadata, key, fallback, out value))
        {
            return true;
        }

        error = $"Metadata:{key} must be a positive duration such as 00:01:00.";
        return false;
    }
}
