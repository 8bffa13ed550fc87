using InferenceSidecar.Proxy;

namespace InferenceSidecar.Resilience;

/// <summary>
/// Wraps a cluster's HTTP handler: bounds the time to response headers, and the idle gap between body reads (so a
/// stream that stalls is cut, never left hanging). A timeout marks the request's feature, so the error is reported as
/// 504 before the response starts; after it started, YARP aborts the client connection.
/// </summary>
internal sealed class TimeoutHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    public static readonly HttpRequestOptionsKey<ResilienceFeature> FeatureKey = new("InferenceSidecar.Feature");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(FeatureKey, out var feature) || feature.Policy is not { } policy)
        {
            return await base.SendAsync(request, cancellationToken);
        }

        using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        headers.CancelAfter(policy.ResponseHeadersTimeout);
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, headers.Token);
        }
        catch (OperationCanceledException) when (headers.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            feature.TimedOut = true;
            throw new TimeoutException("No response headers in time.");
        }

        if (response.Content is { } content)
        {
            response.Content = new IdleTimeoutContent(content, policy.IdleTimeout, feature);
        }

        return response;
    }
}
