using InferenceSidecar.Configuration;
using InferenceSidecar.Transforms;
using InferenceSidecar.Transforms.Errors;
using InferenceSidecar.Transforms.Providers;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

/// <summary>
/// First step of the proxy pipeline: records the route, cluster and provider kind, then reads a JSON body once
/// (size-limited, pooled) for the model and stream flag. Oversized bodies get 413 and malformed JSON 400, both in
/// the route's dialect, before anything reaches the upstream.
/// </summary>
internal sealed class ProxyRequestMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var cluster = proxy.Cluster?.Config;
        var feature = new SidecarRequestFeature
        {
            RouteId = proxy.Route.Config.RouteId,
            ClusterId = cluster?.ClusterId ?? string.Empty,
            Provider = ClusterMetadata.GetProvider(cluster),
        };
        context.Features.Set(feature);

        var request = context.Request;
        if (HttpMethods.IsPost(request.Method) && IsJson(request.ContentType))
        {
            PooledRequestBody body;
            try
            {
                body = await PooledRequestBody.ReadAsync(context, live.Current.MaxRequestBodyBytes);
            }
            catch (BadHttpRequestException ex)
            {
                var message = ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? $"Request body too large: the limit is {live.Current.MaxRequestBodyBytes} bytes."
                    : "The request body could not be read.";
                await ProviderErrors.WriteAsync(context, feature.Provider, ex.StatusCode, message, ex.StatusCode == 413 ? "request_too_large" : null);
                return;
            }

            if (!InferenceRequestParser.TryParse(body.Span, out var info))
            {
                await ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status400BadRequest, "The request body is not a valid JSON object.", "invalid_json");
                return;
            }

            feature.Model = info.Model;
            context.Features.Set(new ParsedRequest(info, body));
        }
        else if (request.ContentLength > live.Current.MaxRequestBodyBytes)
        {
            await ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status413PayloadTooLarge, "Request body too large.", "request_too_large");
            return;
        }

        await next(context);
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null && contentType.Contains("json", StringComparison.OrdinalIgnoreCase);
}
