using System.Buffers;
using System.Globalization;
using InferenceSidecar.Hosting;
using InferenceSidecar.Proxy;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Operations;

/// <summary>
/// On the proxy port: <c>X-Request-Id</c> (set as the request's id by <see cref="RequestIdHttpContextFactory"/>), <c>Server-Timing</c> (sidecar and upstream
/// milliseconds until the headers went out), the opt-in <c>x-sidecar-cost-usd</c>, and the configurable security
/// headers (<c>X-Frame-Options</c>, <c>Cache-Control: no-store</c>). Also records every 429 for the dashboard, as it starts.
/// </summary>
internal sealed class ResponseHeadersMiddleware(RequestDelegate next, ListenerRegistry listeners, IOptionsMonitor<ResponseHeaderOptions> options, RecentRefusals refusals, TimeProvider time)
{
    public const string RequestIdHeader = "X-Request-Id";
    public const string SidecarRequestIdHeader = "x-sidecar-request-id";
    public const string CostHeader = "x-sidecar-cost-usd";

    public Task InvokeAsync(HttpContext context)
    {
        if (!listeners.IsProxyConnection(context))
        {
            return next(context);
        }

        var settings = options.CurrentValue;
        var start = time.GetTimestamp();
        var timing = new UpstreamTiming(time);
        context.Features.Store(timing);
        var state = new HeaderState(context, settings, start, timing, refusals);
        context.Response.OnStarting(static s => ((HeaderState)s).Apply(), state);
        return settings.CostUsd ? WithCostAsync(context, settings) : next(context); // no cost header: nothing to do after
    }

    private async Task WithCostAsync(HttpContext context, ResponseHeaderOptions settings)
    {
        var held = new HoldingStream(context.Response, settings.MaxHeldBytes);
        context.Response.Body = held;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = held.Inner;
            if (!held.Released && !context.Response.HasStarted && context.Features.Lookup<RateLimiting.LimitFeature>()?.Accounted is { } usage)
            {
                context.Response.Headers[CostHeader] = usage.CostUsd.ToString("0.#########", CultureInfo.InvariantCulture);
            }

            await held.ReleaseAsync(context.RequestAborted);
        }
    }

    private sealed class HeaderState(HttpContext context, ResponseHeaderOptions settings, long start, UpstreamTiming timing, RecentRefusals refusals)
    {
        public Task Apply()
        {
            if (context.Response.StatusCode == StatusCodes.Status429TooManyRequests)
            {
                refusals.Add(context); // its status is final once it starts
            }

            var headers = context.Response.Headers;
            if (settings.RequestId)
            {
                // A provider's own x-request-id (OpenAI's req_…) stays: the SDKs report it as the provider's request id.
                // The sidecar's id is then in x-sidecar-request-id only.
                headers[SidecarRequestIdHeader] = context.TraceIdentifier;
                if (headers[RequestIdHeader].Count == 0)
                {
                    headers[RequestIdHeader] = context.TraceIdentifier;
                }
            }

            if (settings.ServerTiming)
            {
                var total = timing.Time.GetElapsedTime(start).TotalMilliseconds;
                var upstream = timing.TotalTicks * 1000.0 / timing.Time.TimestampFrequency;
                headers["Server-Timing"] = timing.TotalTicks > 0
                    ? string.Create(CultureInfo.InvariantCulture, $"sidecar;dur={Math.Max(0, total - upstream):0.0}, upstream;dur={upstream:0.0}")
                    : string.Create(CultureInfo.InvariantCulture, $"sidecar;dur={total:0.0}");
            }

            if (settings.FrameOptions.Length > 0)
            {
                headers.XFrameOptions = settings.FrameOptions;
            }

            if (settings.NoStore && headers.CacheControl.Count == 0 && !IsCached(context))
            {
                headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        }

        // Served from the response cache, or a miss it is storing: cacheable by the sidecar's own rules.
        private static bool IsCached(HttpContext context) =>
            Caching.ResponseCacheFeature.ResultOf(context) is { } result && (result is "hit" || (result is "miss" && context.Response.StatusCode == 200));
    }

    /// <summary>
    /// Holds a non-streamed answer so its cost can go in a header. The first flush (a stream: the forwarder flushes each
    /// SSE chunk), an SSE content type, or passing <c>max</c> bytes releases it: what was held is written and the rest passes through.
    /// </summary>
    private sealed class HoldingStream(HttpResponse response, int max) : Stream
    {
        private readonly Stream inner = response.Body;

        private byte[]? _buffer;
        private int _length;

        public Stream Inner => inner;

        public bool Released { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
        {
            if (Released)
            {
                return;
            }

            Released = true;
            if (_buffer is not null)
            {
                await inner.WriteAsync(_buffer.AsMemory(0, _length), cancellationToken);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Released)
            {
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }

            if (_length + buffer.Length > max || (_length == 0 && response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true))
            {
                await ReleaseAsync(cancellationToken);
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }

            if (_buffer is null || _buffer.Length < _length + buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_length + buffer.Length, Math.Min(max, 16 * 1024)));
                _buffer?.AsSpan(0, _length).CopyTo(bigger);
                if (_buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                }

                _buffer = bigger;
            }

            buffer.Span.CopyTo(_buffer.AsSpan(_length));
            _length += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            await ReleaseAsync(cancellationToken);
            await inner.FlushAsync(cancellationToken);
        }

        public override void Flush() => FlushAsync().GetAwaiter().GetResult();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }

            base.Dispose(disposing);
        }
    }
}
