using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Caching;

/// <summary>
/// A route's response-cache settings, from its YARP route <c>Metadata</c>: <c>Cache</c> (<c>On</c>/<c>Off</c>, default
/// Off), <c>CacheTtl</c> (default 10 minutes), <c>CacheMaxEntryBytes</c> (default 1 MiB) and <c>CacheScope</c>
/// (<c>User</c>, default, or <c>Shared</c>). Parsed once per route config object.
/// </summary>
internal sealed record RouteCachePolicy(bool Enabled, TimeSpan Ttl, int MaxEntryBytes, CacheScope Scope)
{
    public const string EnabledKey = "Cache";
    public const string TtlKey = "CacheTtl";
    public const string MaxEntryBytesKey = "CacheMaxEntryBytes";
    public const string ScopeKey = "CacheScope";

    public static readonly RouteCachePolicy Off = new(false, TimeSpan.FromMinutes(10), 1024 * 1024, CacheScope.User);

    private static readonly ConditionalWeakTable<RouteConfig, RouteCachePolicy> Parsed = [];

    public static RouteCachePolicy For(RouteConfig route) =>
        Parsed.GetValue(route, static r => TryParse(r.Metadata, out var policy, out _) ? policy : Off);

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out RouteCachePolicy policy, out string error)
    {
        policy = Off;
        error = string.Empty;
        if (metadata is null)
        {
            return true;
        }

        var enabled = false;
        if (metadata.TryGetValue(EnabledKey, out var on))
        {
            if (on.Equals("On", StringComparison.OrdinalIgnoreCase) || on.Equals("true", StringComparison.OrdinalIgnoreCase))
            {
                enabled = true;
            }
            else if (!on.Equals("Off", StringComparison.OrdinalIgnoreCase) && !on.Equals("false", StringComparison.OrdinalIgnoreCase))
            {
                error = $"Metadata:{EnabledKey} must be On or Off.";
                return false;
            }
        }

        if (!MetadataValues.TryDuration(metadata, TtlKey, Off.Ttl, out var ttl))
        {
            error = $"Metadata:{TtlKey} must be a positive duration such as 00:10:00.";
            return false;
        }

        if (!MetadataValues.TryCount(metadata, MaxEntryBytesKey, Off.MaxEntryBytes, 1, int.MaxValue, out var max))
        {
            error = $"Metadata:{MaxEntryBytesKey} must be a positive whole number of bytes.";
            return false;
        }

        var scope = CacheScope.User;
        if (metadata.TryGetValue(ScopeKey, out var scopeText) && !Enum.TryParse(scopeText, ignoreCase: true, out scope))
        {
            error = $"Metadata:{ScopeKey} must be User or Shared.";
            return false;
        }

        policy = new RouteCachePolicy(enabled, ttl, max, scope);
        return true;
    }
}
