using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

/// <summary>
/// First step of the proxy pipeline: records the route, cluster, provider kind and endpoint (see
/// <see cref="ProviderEndpoints"/>) from the path and method alone; the body is not read here, but after identity and
/// the key gate (<see cref="RequestBodyMiddleware"/>), so a request refused for who sent it never pays for its body.
/// Failures answer in the route's dialect: 404 (unknown endpoint on a <c>Deny</c> route), 405 (a body sent with another
/// method than POST to a JSON endpoint); both drain the refused body (bounded) so the client gets the answer.
/// </summary>
internal sealed class ProxyRequestMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, SidecarMetrics metrics)
{
    public Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetProxyFeature();
        var cluster = proxy.Cluster?.Config;
        var feature = new InferenceRequestFeature
        {
            RouteId = proxy.Route.Config.RouteId,
            ClusterId = cluster?.ClusterId ?? string.Empty,
            Provider = ClusterMetadata.GetProvider(cluster),
        };
        context.Features.Store(feature);

        var request = context.Request;
        var endpoint = ProviderEndpoints.Resolve(feature.Provider, request.Path.Value, out var deployment);
        if (endpoint.IsUnknown)
        {
            var deny = RouteEndpointPolicy.For(proxy.Route.Config) == UnknownEndpointMode.Deny;
            metrics.UnknownEndpoint(feature.RouteId, deny ? "deny" : "forward");
            if (deny)
            {
                return context.RefuseAsync(live.Current.MaxRequestBodyBytes, feature.Provider, StatusCodes.Status404NotFound, "This route does not serve this endpoint.", "unknown_endpoint");
            }
        }

        if (deployment is not null)
        {
            feature.Model = ClusterEndpointPolicy.For(cluster).ModelFor(deployment); // Azure serves the deployment's model, whatever the body says
            feature.ModelFromUrl = true;
        }

        if (endpoint.Body == EndpointBody.Json && !HttpMethods.IsPost(request.Method))
        {
            if (context.HasBody())
            {
                context.Response.Headers.Allow = "POST";
                return context.RefuseAsync(live.Current.MaxRequestBodyBytes, feature.Provider, StatusCodes.Status405MethodNotAllowed, $"This endpoint takes POST, not {Bounded(request.Method)}.", "method_not_allowed");
            }

            endpoint = ProviderEndpoints.Retrieval; // e.g. GET /v1/chat/completions lists stored completions
        }

        feature.Endpoint = endpoint;
        return next(context); // no await: a request this step lets through costs no state machine
    }

    /// <summary>Methods come from the client: only well-known ones are echoed.</summary>
    private static string Bounded(string method) =>
        HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsGet(method) || HttpMethods.IsDelete(method) ? method : "this method";
}
