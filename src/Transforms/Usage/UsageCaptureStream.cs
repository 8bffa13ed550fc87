using System.Buffers;

namespace InferenceSidecar.Usage;

/// <summary>
/// Wraps the client response body: every write goes straight through (and every flush), while a copy feeds the
/// <see cref="UsageAccumulator"/>. Nothing is buffered on the way to the client, except — only when the injected
/// usage chunk must be removed — the bytes of an SSE event until its blank-line boundary.
/// </summary>
internal sealed class UsageCaptureStream(Stream inner, UsageAccumulator usage, ResponseRecording? recording, TimeProvider time) : Stream, Streaming.IHoldingResponseBody
{
    public Stream Inner => inner;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    private readonly ArrayBufferWriter<byte>? _forward = usage.StripInjectedUsage ? new ArrayBufferWriter<byte>() : null;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (usage.FirstWriteTimestamp == 0)
        {
            usage.FirstWriteTimestamp = time.GetTimestamp();
        }

        if (_forward is null)
        {
            usage.Observe(buffer.Span, NoForward.Instance);
            recording?.Append(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken);
            return;
        }

        _forward.ResetWrittenCount();
        usage.Observe(buffer.Span, _forward);
        if (_forward.WrittenCount > 0)
        {
            recording?.Append(_forward.WrittenSpan);
            await inner.WriteAsync(_forward.WrittenMemory, cancellationToken);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    /// <summary>
    /// The stream ended: a last event without its closing empty line is still read for usage and its end marker, and
    /// anything held back (only when stripping the injected usage) is forwarded and recorded.
    /// </summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        var forward = _forward ?? (IBufferWriter<byte>)NoForward.Instance;
        _forward?.ResetWrittenCount();
        usage.EndOfStream(forward);
        if (_forward is { WrittenCount: > 0 })
        {
            recording?.Append(_forward.WrittenSpan);
            await inner.WriteAsync(_forward.WrittenMemory, cancellationToken);
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>The writer handed to the accumulator when nothing is stripped: it is never written to.</summary>
    private sealed class NoForward : IBufferWriter<byte>
    {
        public static NoForward Instance { get; } = new();

        public void Advance(int count) => throw new InvalidOperationException("Nothing is forwarded through this writer.");

        public Memory<byte> GetMemory(int sizeHint = 0) => throw new InvalidOperationException("Nothing is forwarded through this writer.");

        public Span<byte> GetSpan(int sizeHint = 0) => throw new InvalidOperationException("Nothing is forwarded through this writer.");
    }
}
