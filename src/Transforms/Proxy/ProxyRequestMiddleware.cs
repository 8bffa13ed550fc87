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
/// <see cref="ProviderEndpoints"/>), then reads any request body once (size-limited, pooled). Content-Type never
/// decides whether a body is checked: every body except a multipart upload must be a valid JSON object, whatever the
/// header says, and a compressed body is decoded first (bounded); a multipart upload is read (bounded) and left to
/// the secret scan as bytes. Failures answer in the route's dialect before
/// anything reaches the upstream: 404 (unknown endpoint on a <c>Deny</c> route), 405 (a body sent with another method
/// than POST to a JSON endpoint), 413 (too large, also once decoded), 415 (an unsupported <c>Content-Encoding</c>),
/// 400 (anything that is not a clean JSON object).
/// </summary>
internal sealed class ProxyRequestMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, SidecarMetrics metrics)
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
        var endpoint = ProviderEndpoints.Resolve(feature.Provider, request.Path.Value, out var deployment);
        if (endpoint.IsUnknown)
        {
            var deny = RouteEndpointPolicy.For(proxy.Route.Config) == UnknownEndpointMode.Deny;
            metrics.UnknownEndpoint(feature.RouteId, deny ? "deny" : "forward");
            if (deny)
            {
                await DrainAsync(context, live.Current.MaxRequestBodyBytes);
                await ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status404NotFound, "This route does not serve this endpoint.", "unknown_endpoint");
                return;
            }
        }

        if (deployment is not null)
        {
            feature.Model = ClusterEndpointPolicy.For(cluster).ModelFor(deployment); // Azure serves the deployment's model, whatever the body says
        }

        var hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody
            ?? (request.ContentLength > 0 || request.Headers.ContainsKey("Transfer-Encoding"));
        var post = HttpMethods.IsPost(request.Method);
        if (endpoint.Body == EndpointBody.Json && !post)
        {
            if (hasBody)
            {
                await DrainAsync(context, live.Current.MaxRequestBodyBytes);
                context.Response.Headers.Allow = "POST";
                await ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status405MethodNotAllowed, $"This endpoint takes POST, not {Bounded(request.Method)}.", "method_not_allowed");
                return;
            }

            endpoint = ProviderEndpoints.Retrieval; // e.g. GET /v1/chat/completions lists stored completions
        }

        feature.Endpoint = endpoint;
        var limit = live.Current.MaxRequestBodyBytes;
        if (!hasBody && !(post && endpoint.Body == EndpointBody.Json))
        {
            request.Headers.Remove("Content-Encoding"); // no body, nothing encoded
            await next(context);
            return;
        }

        var upload = endpoint.Body != EndpointBody.Json && IsMultipart(request.ContentType);
        if (upload && !string.IsNullOrEmpty(request.Headers.ContentEncoding))
        {
            await DrainAsync(context, limit);
            await ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status415UnsupportedMediaType, "Compressed uploads are not accepted.", "unsupported_encoding");
            return;
        }

        PooledRequestBody body;
        try
        {
            body = await PooledRequestBody.ReadAsync(context, limit);
            if (request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding)
            {
                body = PooledRequestBody.Decode(context, body, encoding, limit);
            }
        }
        catch (BadHttpRequestException ex)
        {
            var (message, code) = ex.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => ($"Request body too large: the limit is {limit} bytes (decoded).", "request_too_large"),
                StatusCodes.Status415UnsupportedMediaType => ("Unsupported Content-Encoding: use gzip, deflate, br or none.", "unsupported_encoding"),
                _ => ("The request body could not be read.", "invalid_body"),
            };
            await ProviderErrors.WriteAsync(context, feature.Provider, ex.StatusCode, message, code);
            return;
        }

        if (upload)
        {
            // Uploads are not parsed: size-capped, scanned for secrets as bytes, counted as requests.
            context.Features.Set(new UploadRequest(body));
            await next(context);
            return;
        }

        if (!InferenceRequestParser.TryParse(body.Span, out var info, out var problem))
        {
            await ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status400BadRequest, problem, "invalid_json");
            return;
        }

        if (!IsJson(request.ContentType))
        {
            request.ContentType = "application/json"; // what was checked is what the provider parses
        }

        if (deployment is not null)
        {
            info = info with { Model = feature.Model };
        }
        else
        {
            feature.Model = info.Model;
        }

        context.Features.Set(new ParsedRequest(info, body));
        await next(context);
    }

    /// <summary>
    /// Reads and discards a body that is refused (up to the size limit), so the client receives the answer instead of a
    /// reset connection; past the limit the connection is closed after the answer.
    /// </summary>
    private static async Task DrainAsync(HttpContext context, long limit)
    {
        try
        {
            using var body = await PooledRequestBody.ReadAsync(context, limit);
        }
        catch (BadHttpRequestException)
        {
            context.Response.Headers.Connection = "close";
        }
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null && contentType.Contains("json", StringComparison.OrdinalIgnoreCase);

    private static bool IsMultipart(string? contentType) =>
        contentType is not null && contentType.TrimStart().StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase);

    /// <summary>Methods come from the client: only well-known ones are echoed.</summary>
    private static string Bounded(string method) =>
        HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsGet(method) || HttpMethods.IsDelete(method) ? method : "this method";
}
