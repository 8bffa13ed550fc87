using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Metrics;
using InferenceSidecar.Providers;
using InferenceSidecar.Threat;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Reads any request body once (size-limited, pooled) and parses it once — after identity and the key gate, so a request
/// refused for who sent it (401, 503) never pays for its body: Kestrel drains or closes what was not read. Content-Type
/// never decides whether a body is checked: every body except a multipart upload must be a valid JSON object, whatever
/// the header says, and a compressed body is decoded first (bounded); a multipart upload is read (bounded) and left to
/// the secret scan as bytes. Failures answer in the route's dialect before anything reaches the upstream: 413 (too
/// large, also once decoded), 415 (an unsupported <c>Content-Encoding</c>), 400 (anything that is not a clean JSON
/// object; a threat signal, <c>malformed</c>). When the route caches, the parse also records the tokens the cache key's
/// canonical form is built from.
/// </summary>
internal sealed class RequestBodyMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, SidecarMetrics metrics)
{
    public Task InvokeAsync(HttpContext context)
    {
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var request = context.Request;
        var endpoint = feature.Endpoint;
        var limit = live.Current.MaxRequestBodyBytes;
        if (!context.HasBody() && !(HttpMethods.IsPost(request.Method) && endpoint.Body == EndpointBody.Json))
        {
            request.Headers.Remove("Content-Encoding"); // no body, nothing encoded
            return next(context);
        }

        var upload = endpoint.Body != EndpointBody.Json && IsMultipart(request.ContentType);
        if (upload && !string.IsNullOrEmpty(request.Headers.ContentEncoding))
        {
            return context.RefuseAsync(limit, feature.Provider, StatusCodes.Status415UnsupportedMediaType, "Compressed uploads are not accepted.", "unsupported_encoding");
        }

        // A small body has usually arrived with the headers: then the read completes at once and the request goes on
        // without a state machine here.
        var read = PooledRequestBody.ReadAsync(context, limit);
        return read.IsCompletedSuccessfully ? Continue(context, feature, read.Result, upload, limit) : ReadThenContinueAsync(context, feature, read, upload, limit);
    }

    private async Task ReadThenContinueAsync(HttpContext context, InferenceRequestFeature feature, Task<PooledRequestBody> read, bool upload, long limit)
    {
        PooledRequestBody body;
        try
        {
            body = await read;
        }
        catch (BadHttpRequestException ex)
        {
            await Refuse(context, feature, ex, limit);
            return;
        }

        await Continue(context, feature, body, upload, limit);
    }

    private static Task Refuse(HttpContext context, InferenceRequestFeature feature, BadHttpRequestException ex, long limit)
    {
        var (message, code) = ex.StatusCode switch
        {
            StatusCodes.Status413PayloadTooLarge => ($"Request body too large: the limit is {limit} bytes (decoded).", "request_too_large"),
            StatusCodes.Status415UnsupportedMediaType => ("Unsupported Content-Encoding: use gzip, deflate, br or none.", "unsupported_encoding"),
            _ => ("The request body could not be read.", "invalid_body"),
        };
        if (ex.StatusCode == StatusCodes.Status400BadRequest)
        {
            context.RaiseThreat(ThreatSignals.Malformed);
        }

        return ProviderErrors.WriteAsync(context, feature.Provider, ex.StatusCode, message, code);
    }

    /// <summary>After the read: decode, parse, record, and on to the next step (synchronous unless it refuses).</summary>
    private Task Continue(HttpContext context, InferenceRequestFeature feature, PooledRequestBody body, bool upload, long limit)
    {
        var request = context.Request;
        if (request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding)
        {
            try
            {
                body = PooledRequestBody.Decode(context, body, encoding, limit);
            }
            catch (BadHttpRequestException ex)
            {
                return Refuse(context, feature, ex, limit);
            }
        }

        metrics.RequestBody(feature.RouteId, "read");
        if (upload)
        {
            // Uploads are not parsed: size-capped, scanned for secrets as bytes, counted as requests.
            context.Features.Store(new UploadRequest(body));
            return next(context);
        }

        var tape = Caching.RouteCachePolicy.For(context.GetProxyFeature().Route.Config).Enabled ? new List<JsonTapeToken>() : null;
        metrics.RequestBody(feature.RouteId, "parse");
        if (!InferenceRequestParser.TryParse(body.Span, out var info, out var problem, tape))
        {
            context.RaiseThreat(ThreatSignals.Malformed);
            return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status400BadRequest, problem, "invalid_json");
        }

        if (request.Headers.ContentType.Count != 1 || !IsJson(request.ContentType))
        {
            request.ContentType = "application/json"; // what was checked is what the provider parses
        }

        if (feature.ModelFromUrl)
        {
            info = info with { Model = feature.Model };
        }
        else
        {
            feature.Model = info.Model;
        }

        context.Features.Store(new ParsedRequest(info, body, tape is null ? null : Caching.CacheKey.Canonical(body.Span, tape)));
        return next(context);
    }

    /// <summary>One media type, JSON (<c>application/json</c> or <c>*/*+json</c>): else the header is replaced, so what the provider parses is what was checked.</summary>
    private static bool IsJson(string? contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private static bool IsMultipart(string? contentType) =>
        contentType is not null && contentType.TrimStart().StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase);
}
