using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.Providers;

/// <summary>What a route does with a path that matches no known endpoint.</summary>
internal enum UnknownEndpointMode
{
    /// <summary>Forward it: identity, request limits, size cap and secret stripping of a JSON body still apply; counted in a metric.</summary>
    Forward,

    /// <summary>Answer 404 in the route's dialect.</summary>
    Deny,
}

/// <summary>Route <c>Metadata:UnknownEndpoints</c> (<c>Forward</c>, default; <c>Deny</c>), parsed once per route config.</summary>
internal static class RouteEndpointPolicy
{
    public const string Key = "UnknownEndpoints";

    private static readonly ConditionalWeakTable<RouteConfig, StrongBox<UnknownEndpointMode>> Parsed = [];

    public static UnknownEndpointMode For(RouteConfig route) =>
        Parsed.GetValue(route, static r => new StrongBox<UnknownEndpointMode>(TryParse(r.Metadata, out var mode, out _) ? mode : UnknownEndpointMode.Forward)).Value;

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out UnknownEndpointMode mode, out string error)
    {
        mode = UnknownEndpointMode.Forward;
        error = string.Empty;
        if (metadata is null || !metadata.TryGetValue(Key, out var text))
        {
            return true;
        }

        if (Enum.TryParse(text, ignoreCase: true, out mode) && Enum.IsDefined(mode))
        {
            return true;
        }

        mode = UnknownEndpointMode.Forward;
        error = $"Metadata:{Key} must be Forward or Deny.";
        return false;
    }
}

/// <summary>
/// Cluster <c>Metadata</c> that shapes the endpoint model: <c>Deployments</c> (Azure OpenAI deployment → model, e.g.
/// <c>prod-4o=gpt-4o,mini=gpt-4o-mini</c>; a deployment not listed is its own model name) and <c>IncludeUsage</c>
/// (default true: the sidecar may add <c>stream_options.include_usage</c> to chat and completions streams; false for
/// servers and older Azure <c>api-version</c>s that refuse <c>stream_options</c>).
/// </summary>
internal sealed record ClusterEndpointPolicy(FrozenDictionary<string, string> Deployments, bool IncludeUsage)
{
    public const string DeploymentsKey = "Deployments";
    public const string IncludeUsageKey = "IncludeUsage";

    public static readonly ClusterEndpointPolicy Default = new(FrozenDictionary<string, string>.Empty, true);

    private static readonly ConditionalWeakTable<ClusterConfig, ClusterEndpointPolicy> Parsed = [];

    public static ClusterEndpointPolicy For(ClusterConfig? cluster) =>
        cluster is null ? Default : Parsed.GetValue(cluster, static c => TryParse(c.Metadata, out var policy, out _) ? policy : Default);

    /// <summary>The model a deployment serves: the map's entry, else the deployment name itself.</summary>
    public string ModelFor(string deployment) => Deployments.TryGetValue(deployment, out var model) ? model : deployment;

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out ClusterEndpointPolicy policy, out string error)
    {
        policy = Default;
        error = string.Empty;
        if (metadata is null)
        {
            return true;
        }

        var includeUsage = true;
        if (metadata.TryGetValue(IncludeUsageKey, out var text) && !bool.TryParse(text, out includeUsage))
        {
            error = $"Metadata:{IncludeUsageKey} must be true or false.";
            return false;
        }

        var deployments = FrozenDictionary<string, string>.Empty;
        if (metadata.TryGetValue(DeploymentsKey, out var map))
        {
            try
            {
                deployments = ProviderEndpoints.ParseDeployments(map);
            }
            catch (FormatException ex)
            {
                error = $"Metadata:{DeploymentsKey}: {ex.Message}.";
                return false;
            }
        }

        policy = new ClusterEndpointPolicy(deployments, includeUsage);
        return true;
    }
}
