namespace InferenceSidecar.Usage;

/// <summary>A copy of the bytes sent to the client, up to a limit (pooled). Past the limit it stops and says so.</summary>
internal sealed class ResponseRecording(int limit) : IDisposable
{
    private readonly PooledByteBuffer _bytes = new();

    public bool Overflowed { get; private set; }

    public string? ContentType { get; set; }

    public ReadOnlySpan<byte> Bytes => _bytes.Span;

    public void Append(ReadOnlySpan<byte> data)
    {
        if (Overflowed)
        {
            return;
        }

        if ((long)_bytes.Length + data.Length > limit)
        {
            Overflowed = true;
            _bytes.Dispose();
            return;
        }

        _bytes.Append(data);
    }

    public void Dispose() => _bytes.Dispose();
}
