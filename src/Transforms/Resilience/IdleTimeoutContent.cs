using System.Net;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Resilience;

/// <summary>Upstream response content whose every read must make progress within the idle timeout.</summary>
internal sealed class IdleTimeoutContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly TimeSpan _idle;
    private readonly ResilienceFeature _feature;

    public IdleTimeoutContent(HttpContent inner, TimeSpan idle, ResilienceFeature feature)
    {
        _inner = inner;
        _idle = idle;
        _feature = feature;
        foreach (var header in inner.Headers)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new IdleTimeoutStream(await _inner.ReadAsStreamAsync(cancellationToken), _idle, _feature);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class IdleTimeoutStream(Stream inner, TimeSpan idle, ResilienceFeature feature) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        // One timer per stream, armed for each read and disarmed when it returns (the gap while the client is written to
        // is not upstream idleness). A read that completes at once (the bytes were already buffered) costs no state machine.
        private CancellationTokenSource? _timeout;
        private CancellationToken _linkedTo;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_timeout is null || _linkedTo != cancellationToken)
            {
                _timeout?.Dispose();
                _timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _linkedTo = cancellationToken;
            }

            var timeout = _timeout;
            timeout.CancelAfter(idle);
            ValueTask<int> read;
            try
            {
                read = inner.ReadAsync(buffer, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw TimedOut();
            }

            if (read.IsCompletedSuccessfully)
            {
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                return read;
            }

            return AwaitAsync(read, timeout, cancellationToken);
        }

        private async ValueTask<int> AwaitAsync(ValueTask<int> read, CancellationTokenSource timeout, CancellationToken cancellationToken)
        {
            try
            {
                var n = await read;
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                return n;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw TimedOut();
            }
        }

        private TimeoutException TimedOut()
        {
            feature.TimedOut = true;
            return new TimeoutException("The upstream stream went idle.");
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _timeout?.Dispose();
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
