using InferenceSidecar.Hygiene;
using InferenceSidecar.Keys;
using InferenceSidecar.Providers;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Adds the sidecar's transforms each route and cluster needs: header hygiene and the provider key bound to the cluster,
/// the retry, scrub and redaction steps only where the route's and cluster's metadata call for them.
/// Cluster metadata is validated here, so a bad <c>Provider</c> or <c>ApiKey</c> rejects the config (at start, or
/// on reload while the last good config keeps serving) with an error naming the cluster and the key.
/// </summary>
internal sealed class SidecarTransformProvider(SecretResolver secrets, IOptions<HeaderHygieneOptions> hygiene, Destinations.DestinationQuota quota) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
        if (!Caching.RouteCachePolicy.TryParse(context.Route.Metadata, out _, out var error)
            || !Resilience.RouteResiliencePolicy.TryParse(context.Route.Metadata, out _, out error)
            || !Redaction.RouteRedactionPolicy.TryParse(context.Route.Metadata, out _, out error)
            || !RouteEndpointPolicy.TryParse(context.Route.Metadata, out _, out error)
            || !PromptGuard.RoutePromptGuardPolicy.TryParse(context.Route.Metadata, out _, out error))
        {
            context.Errors.Add(new ArgumentException($"ReverseProxy:Routes:{context.Route.RouteId}:{error}"));
        }
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
        var cluster = context.Cluster;
        var metadata = cluster.Metadata;
        if (metadata is not null && metadata.TryGetValue(ClusterMetadata.Provider, out var provider) && !ClusterMetadata.TryParseProvider(provider, out _))
        {
            context.Errors.Add(new ArgumentException(
                $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata:{ClusterMetadata.Provider} '{provider}' is not one of OpenAI, Anthropic, AzureOpenAI."));
        }

        if (!MetadataValues.TryDuration(metadata, ClusterMetadata.ConnectTimeout, TimeSpan.FromSeconds(5), out _))
        {
            context.Errors.Add(new ArgumentException(
                $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata:{ClusterMetadata.ConnectTimeout} must be a positive duration such as 00:00:05."));
        }

        if (!MetadataValues.TryCount(metadata, ClusterMetadata.CircuitFailures, ClusterMetadata.DefaultCircuitFailures, 1, 1000, out _))
        {
            context.Errors.Add(new ArgumentException(
                $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata:{ClusterMetadata.CircuitFailures} must be a whole number from 1 to 1000."));
        }

        if (metadata is not null && metadata.TryGetValue(ClusterMetadata.XForwarded, out var xForwarded) && !bool.TryParse(xForwarded?.Trim(), out _))
        {
            context.Errors.Add(new ArgumentException(
                $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata:{ClusterMetadata.XForwarded} must be true or false."));
        }

        if (!ClusterEndpointPolicy.TryParse(metadata, out _, out var endpointError))
        {
            context.Errors.Add(new ArgumentException($"ReverseProxy:Clusters:{cluster.ClusterId}:{endpointError}"));
        }

        foreach (var (destinationId, destination) in cluster.Destinations ?? new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig>())
        {
            if (DestinationKeys.OwnReference(destination.Metadata) is { } own && !SecretReference.TryParse(own, out _, out var destinationError))
            {
                context.Errors.Add(new ArgumentException(
                    $"ReverseProxy:Clusters:{cluster.ClusterId}:Destinations:{destinationId}:Metadata:{ClusterMetadata.ApiKey} {destinationError}."));
            }
        }

        var reference = ClusterMetadata.GetApiKeyReference(metadata);
        if (!SecretReference.TryParse(reference, out _, out var error))
        {
            // The reference could be a pasted key: never echo it.
            context.Errors.Add(new ArgumentException(
                $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata:{ClusterMetadata.ApiKey} {error}."));
        }
    }

    /// <summary>
    /// Adds the transforms this route and this cluster need, decided here once per (route, cluster) rather than per
    /// request. YARP calls it for a route's own cluster; <see cref="Resilience.FallbackTransformers"/> calls it (through
    /// <see cref="ITransformBuilder"/>) for each fallback cluster, so every transform bound to a cluster below is bound to
    /// the cluster the request actually goes to. docs/architecture.md ("Transforms per route") lists the conditions.
    /// </summary>
    public void Apply(TransformBuilderContext context)
    {
        var route = context.Route;
        var cluster = context.Cluster;
        var metadata = cluster?.Metadata;
        var provider = ClusterMetadata.GetProvider(metadata);
        var keyReference = ClusterMetadata.GetApiKeyReference(metadata);
        var extra = metadata is not null && metadata.TryGetValue(ClusterMetadata.ForwardHeaders, out var list)
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : null;

        // YARP adds X-Forwarded-* to every request by default (after these transforms, out of the hygiene's reach): only a
        // cluster that opts in gets them, added here so the hygiene still drops them for a fallback cluster that did not.
        var xForwarded = ClusterMetadata.SendsXForwarded(metadata);
        context.UseDefaultForwarders = false;
        if (xForwarded)
        {
            context.AddXForwarded();
        }

        // Always: the hygiene (client credentials never leave), the per-attempt timeouts every route has.
        context.RequestTransforms.Add(new RequestHeaderHygieneTransform(hygiene.Value.IdentityHeader, provider, extra, xForwarded));
        context.RequestTransforms.Add(Resilience.ResilienceRequestTransform.Instance);

        // A cluster that sends no credential at all (ApiKey none, no destination key of its own) needs no key injected
        // nor scrubbed; Anthropic still gets its version header.
        var sendsKey = !IsNone(keyReference) || (cluster?.Destinations?.Values.Any(d => DestinationKeys.OwnReference(d.Metadata) is { } own && !IsNone(own)) ?? false);
        if (sendsKey || provider == ProviderKind.Anthropic)
        {
            var version = ClusterMetadata.TryGetAnthropicVersion(metadata, out var v) ? v : ClusterMetadata.DefaultAnthropicVersion;
            context.RequestTransforms.Add(new ProviderKeyTransform(provider, keyReference, version, secrets));
        }

        // Always: 429 cooldown (any cluster, one destination included) and MostRemainingQuota readings.
        context.ResponseTransforms.Add(new Destinations.DestinationQuotaTransform(quota));

        // Only when a retryable answer can be retried: more than one attempt, or fallback clusters.
        var resilience = Resilience.RouteResiliencePolicy.For(route);
        if (resilience.Attempts > 1 || resilience.Fallback.Length > 0)
        {
            context.ResponseTransforms.Add(Resilience.RetryableResponseTransform.Instance);
        }

        context.ResponseTransforms.Add(UpstreamStatusTransform.Instance);
        context.ResponseTransforms.Add(ResponseHeaderHygieneTransform.Instance);
        if (sendsKey)
        {
            context.ResponseTransforms.Add(new Errors.ErrorBodyScrubTransform(secrets, provider, keyReference));
        }

        // Always: the limiter tracks (and the cache records) every accounted request, on every route.
        context.ResponseTransforms.Add(Usage.UsageCaptureTransform.Instance);

        // Only on routes that redact responses (RedactResponses: true, Redaction not Off).
        var redaction = Redaction.RouteRedactionPolicy.For(route);
        if (redaction.Responses && redaction.Mode != Redaction.RedactionMode.Off)
        {
            context.ResponseTransforms.Add(Redaction.ResponseRedactionTransform.Instance);
        }
    }

    private static bool IsNone(string reference) => reference.Equals("none", StringComparison.OrdinalIgnoreCase);
}
