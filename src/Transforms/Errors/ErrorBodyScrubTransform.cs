using System.IO.Compression;
using InferenceSidecar.Keys;
using InferenceSidecar.Providers;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Errors;

/// <summary>
/// Keeps the key the sidecar injected from ever coming back to the client, whatever the upstream echoes:
/// <list type="bullet">
/// <item>every response header value (<c>Location</c> of a redirect included), on every response;</item>
/// <item>error bodies (non-2xx): decoded first when compressed (<c>gzip</c>, <c>deflate</c>, <c>br</c>, bounded to
/// 1 MiB decoded) and sent back uncompressed with <c>Content-Encoding</c> removed and <c>Content-Length</c> fixed;</item>
/// </list>
/// in clear, JSON-escaped (<c>\u002d</c>, <c>\/</c>) or percent-encoded (see <see cref="KeyScrubber"/>). An error body
/// that cannot be checked (larger than the bound, an unknown or broken encoding) is replaced by a dialect error with the
/// same status rather than passed on unchecked. Bound at build time to one cluster's key reference and provider (a
/// fallback cluster has its own instance); a destination's own key replaces the cluster's. A swallowed retryable answer is left alone (it never reaches the client).
/// </summary>
internal sealed class ErrorBodyScrubTransform(SecretResolver secrets, ProviderKind provider, string keyReference) : ResponseTransform
{
    /// <summary>The provider kind of the cluster this transformer was built for (the dialect of a withheld error).</summary>
    public ProviderKind Provider { get; } = provider;

    /// <summary>The key reference of the cluster this transformer was built for (a destination's own key replaces it).</summary>
    public string KeyReference { get; } = keyReference;

    /// <summary>Largest error body checked, after decoding.</summary>
    public const int MaxBytes = 1024 * 1024;

    public override async ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is not { } response)
        {
            return;
        }

        var destination = context.HttpContext.GetReverseProxyFeatureOrNull()?.ProxiedDestination;
        if (!secrets.TryResolve(Keys.DestinationKeys.OwnReference(destination) ?? KeyReference, out var key) || key.Length < 8)
        {
            return;
        }

        ScrubHeaders(context.HttpContext.Response.Headers, key);
        if (context.SuppressResponseBody || response.IsSuccessStatusCode)
        {
            return;
        }

        var client = context.HttpContext.Response;
        var body = await ReadBoundedAsync(response, context.CancellationToken);
        var encodings = response.Content.Headers.ContentEncoding;
        if (body is not null && encodings.Count > 0)
        {
            body = Decode(body, encodings);
        }

        context.SuppressResponseBody = true;
        client.Headers.Remove(HeaderNames.ContentEncoding);
        if (body is null)
        {
            client.Headers.Remove(HeaderNames.ContentMD5);
            await ProviderErrors.WriteAsync(context.HttpContext, Provider, client.StatusCode, "The upstream error body was withheld: it could not be checked for the provider key.", "upstream_error_withheld");
            return;
        }

        var scrubbed = KeyScrubber.Scrub(body, key) ?? body;
        client.Headers.ContentLength = scrubbed.Length;
        await client.Body.WriteAsync(scrubbed, context.CancellationToken);
    }

    /// <summary>Replaces the key, in any encoding, in every response header value.</summary>
    internal static void ScrubHeaders(IHeaderDictionary headers, string key)
    {
        List<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>>? changed = null;
        foreach (var header in headers)
        {
            string?[]? values = null;
            for (var i = 0; i < header.Value.Count; i++)
            {
                if (header.Value[i] is { } value && KeyScrubber.Scrub(value, key) is { } scrubbed)
                {
                    values ??= header.Value.ToArray();
                    values[i] = scrubbed;
                }
            }

            if (values is not null)
            {
                (changed ??= []).Add(new(header.Key, new Microsoft.Extensions.Primitives.StringValues(values)));
            }
        }

        if (changed is not null)
        {
            foreach (var (name, value) in changed)
            {
                headers[name] = value;
            }
        }
    }

    /// <summary>The body as sent, or null when it is larger than <see cref="MaxBytes"/>.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > MaxBytes)
        {
            return null;
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await ReadBoundedAsync(stream, cancellationToken);
    }

    private static async Task<byte[]?> ReadBoundedAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>Undoes the listed encodings (last applied first); null when one is unknown, broken or decodes past the bound.</summary>
    internal static byte[]? Decode(byte[] body, ICollection<string> encodings)
    {
        var current = body;
        foreach (var encoding in encodings.Reverse())
        {
            var name = encoding.Trim().ToLowerInvariant();
            if (name is "identity" or "")
            {
                continue;
            }

            var input = current;
            try
            {
                current = name switch
                {
                    "gzip" or "x-gzip" => Inflate(new GZipStream(new MemoryStream(input), CompressionMode.Decompress)),
                    "br" => Inflate(new BrotliStream(new MemoryStream(input), CompressionMode.Decompress)),
                    "deflate" => Inflate(new ZLibStream(new MemoryStream(input), CompressionMode.Decompress)),
                    _ => null,
                };
            }
            catch (InvalidDataException)
            {
                // HTTP "deflate" is zlib-wrapped, but some servers send raw deflate.
                current = name == "deflate" ? TryRawDeflate(input) : null;
            }

            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    private static byte[]? TryRawDeflate(byte[] data)
    {
        try
        {
            return Inflate(new DeflateStream(new MemoryStream(data), CompressionMode.Decompress));
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static byte[]? Inflate(Stream decoder)
    {
        using (decoder)
        {
            using var output = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = decoder.Read(chunk)) > 0)
            {
                if (output.Length + read > MaxBytes)
                {
                    return null;
                }

                output.Write(chunk, 0, read);
            }

            return output.ToArray();
        }
    }
}
