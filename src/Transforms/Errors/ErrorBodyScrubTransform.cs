using System.Text;
using InferenceSidecar.Transforms.Keys;
using InferenceSidecar.Transforms.Providers;
using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Transforms.Errors;

/// <summary>
/// Upstream error bodies (non-2xx, up to 1 MiB) are read before the client sees them, and any occurrence of the key the
/// sidecar injected is replaced with <c>[REDACTED:provider_key]</c>; some providers echo the key they were given.
/// A swallowed retryable answer is left alone (it never reaches the client).
/// </summary>
internal sealed class ErrorBodyScrubTransform(SecretResolver secrets) : ResponseTransform
{
    private const int MaxBytes = 1024 * 1024;
    private static readonly byte[] Marker = "[REDACTED:provider_key]"u8.ToArray();

    public override async ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.SuppressResponseBody || context.ProxyResponse is not { IsSuccessStatusCode: false } response
            || response.Content.Headers.ContentLength > MaxBytes)
        {
            return;
        }

        var feature = context.HttpContext.Features.Get<SidecarRequestFeature>();
        var metadata = feature?.FallbackCluster?.Metadata ?? context.HttpContext.GetReverseProxyFeatureOrNull()?.Cluster?.Config.Metadata;
        if (!secrets.TryResolve(ClusterMetadata.GetApiKeyReference(metadata), out var key) || key.Length < 8)
        {
            return;
        }

        var body = await response.Content.ReadAsByteArrayAsync(context.CancellationToken);
        var scrubbed = Replace(body, Encoding.UTF8.GetBytes(key));
        context.SuppressResponseBody = true;
        context.HttpContext.Response.Headers.ContentLength = scrubbed.Length;
        await context.HttpContext.Response.Body.WriteAsync(scrubbed, context.CancellationToken);
    }

    private static byte[] Replace(byte[] body, byte[] key)
    {
        var at = body.AsSpan().IndexOf(key);
        if (at < 0)
        {
            return body;
        }

        var output = new List<byte>(body.Length);
        var rest = body.AsSpan();
        while ((at = rest.IndexOf(key)) >= 0)
        {
            output.AddRange(rest[..at]);
            output.AddRange(Marker);
            rest = rest[(at + key.Length)..];
        }

        output.AddRange(rest);
        return [.. output];
    }
}
