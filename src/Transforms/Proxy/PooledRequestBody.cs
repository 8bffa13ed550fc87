using System.Buffers;
using System.IO.Compression;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceSidecar.Proxy;

/// <summary>
/// A request body read once into a pooled buffer, then served to YARP from memory. Returned to the pool when the
/// response completes. Reading more than the limit throws Kestrel's 413 <see cref="BadHttpRequestException"/>.
/// </summary>
internal sealed class PooledRequestBody : IDisposable
{
    private byte[]? _buffer;

    private PooledRequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public static async Task<PooledRequestBody> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (context.Features.Lookup<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        if (request.ContentLength > limit)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(request.ContentLength ?? 16 * 1024, 256, limit));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    buffer = Grow(buffer, length, limit);
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return new PooledRequestBody(buffer, length).Install(context);
    }

    /// <summary>
    /// Decodes a compressed body (<c>Content-Encoding</c>: <c>gzip</c>, <c>deflate</c>, <c>br</c>, <c>identity</c>, applied
    /// in the order listed) into a new pooled body that replaces it, the header removed. The decoded size is capped by
    /// <paramref name="limit"/> (a zip bomb gets 413); corrupt data gets 400; an unsupported coding 415 — each a
    /// <see cref="BadHttpRequestException"/> with that status.
    /// </summary>
    public static PooledRequestBody Decode(HttpContext context, PooledRequestBody raw, string contentEncoding, long limit)
    {
        var codings = contentEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var coding in codings)
        {
            if (!IsSupported(coding))
            {
                throw new BadHttpRequestException("Unsupported Content-Encoding.", StatusCodes.Status415UnsupportedMediaType);
            }
        }

        var current = raw;
        for (var i = codings.Length - 1; i >= 0; i--)
        {
            if (codings[i].Equals("identity", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var decoded = DecodeOne(current, codings[i], limit);
            if (!ReferenceEquals(current, raw))
            {
                current.Dispose();
            }

            current = decoded;
        }

        context.Request.Headers.Remove("Content-Encoding");
        return ReferenceEquals(current, raw) ? raw : current.Install(context);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsSupported(string coding) =>
        coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase)
        || coding.Equals("deflate", StringComparison.OrdinalIgnoreCase) || coding.Equals("br", StringComparison.OrdinalIgnoreCase)
        || coding.Equals("identity", StringComparison.OrdinalIgnoreCase);

    private static PooledRequestBody DecodeOne(PooledRequestBody source, string coding, long limit)
    {
        try
        {
            return Inflate(source, coding, raw: false, limit);
        }
        catch (InvalidDataException) when (coding.Equals("deflate", StringComparison.OrdinalIgnoreCase))
        {
            return Inflate(source, coding, raw: true, limit); // some clients send raw DEFLATE instead of zlib
        }
    }

    private static PooledRequestBody Inflate(PooledRequestBody source, string coding, bool raw, long limit)
    {
        using var input = new MemoryStream(source._buffer!, 0, source.Length, writable: false);
        using Stream decoder = coding.Equals("br", StringComparison.OrdinalIgnoreCase) ? new BrotliStream(input, CompressionMode.Decompress)
            : coding.Equals("deflate", StringComparison.OrdinalIgnoreCase) ? (raw ? new DeflateStream(input, CompressionMode.Decompress) : new ZLibStream(input, CompressionMode.Decompress))
            : new GZipStream(input, CompressionMode.Decompress);
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp((long)source.Length * 4, 256, limit));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    buffer = Grow(buffer, length, limit);
                }

                int read;
                try
                {
                    read = decoder.Read(buffer, length, buffer.Length - length);
                }
                catch (InvalidDataException) when (!raw && coding.Equals("deflate", StringComparison.OrdinalIgnoreCase))
                {
                    throw;
                }
                catch (Exception ex) when (ex is InvalidDataException || (ex is InvalidOperationException && decoder is BrotliStream))
                {
                    // BrotliStream reports corrupt input as InvalidOperationException ("Decoder ran into invalid data").
                    throw new BadHttpRequestException("The compressed request body is corrupt.", StatusCodes.Status400BadRequest, ex);
                }

                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return new PooledRequestBody(buffer, length);
    }

    private static byte[] Grow(byte[] buffer, int length, long limit)
    {
        if (length >= limit)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }

        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit));
        buffer.AsSpan(0, length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    /// <summary>Serves this buffer as the request body from now on (exact length, no chunking) and returns it to the pool with the response.</summary>
    private PooledRequestBody Install(HttpContext context)
    {
        var request = context.Request;
        request.Body = new MemoryStream(_buffer!, 0, Length, writable: false);
        request.ContentLength = Length;
        request.Headers.Remove("Transfer-Encoding");
        context.Response.RegisterForDispose(this);
        return this;
    }
}
