using System.Buffers;

namespace InferenceSidecar.Transforms.Usage;

/// <summary>A copy of the bytes sent to the client, up to a limit (pooled). Past the limit it stops and says so.</summary>
internal sealed class ResponseRecording(int limit) : IDisposable
{
    private byte[]? _buffer;
    private int _length;

    public bool Overflowed { get; private set; }

    public string? ContentType { get; set; }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    public void Append(ReadOnlySpan<byte> data)
    {
        if (Overflowed)
        {
            return;
        }

        if ((long)_length + data.Length > limit)
        {
            Overflowed = true;
            Dispose();
            return;
        }

        if (_buffer is null || _buffer.Length - _length < data.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(limit, Math.Max(4096, (_length + data.Length) * 2)));
            _buffer?.AsSpan(0, _length).CopyTo(bigger);
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = bigger;
        }

        data.CopyTo(_buffer.AsSpan(_length));
        _length += data.Length;
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _length = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
