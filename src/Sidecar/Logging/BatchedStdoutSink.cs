using System.Text;
using System.Threading.Channels;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace InferenceSidecar.Logging;

/// <summary>
/// Writes formatted log events to a stream (stdout in Production) from one background task: the request thread only
/// queues the event, and the writer formats a whole batch into one buffer and flushes it with one write once the queue
/// is drained. Serilog's console sink formats and writes each line under a lock, a system call per line, which cost
/// ~100 µs per request on the proxy path (bench/). Nothing is dropped: when the queue is full (the writer cannot keep
/// up) the caller formats and writes its event itself, under the same lock, so back-pressure slows logging callers
/// rather than losing lines. Disposing drains the queue and flushes.
/// </summary>
internal sealed class BatchedStdoutSink : ILogEventSink, IDisposable
{
    private const int QueueCapacity = 8192;

    private readonly ITextFormatter _formatter;
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();
    private readonly Channel<LogEvent> _queue = Channel.CreateBounded<LogEvent>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Task _pump;

    public BatchedStdoutSink(ITextFormatter formatter, Stream output)
    {
        _formatter = formatter;
        _writer = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 64 * 1024) { AutoFlush = false };
        _pump = Task.Run(PumpAsync);
    }

    public void Emit(LogEvent logEvent)
    {
        if (_queue.Writer.TryWrite(logEvent))
        {
            return;
        }

        lock (_gate)
        {
            _formatter.Format(logEvent, _writer);
            _writer.Flush();
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _pump.GetAwaiter().GetResult();
        lock (_gate)
        {
            _writer.Flush();
        }
    }

    private async Task PumpAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            lock (_gate)
            {
                try
                {
                    while (reader.TryRead(out var logEvent))
                    {
                        _formatter.Format(logEvent, _writer);
                    }

                    _writer.Flush();
                }
                catch (IOException)
                {
                    // stdout is gone (closed pipe): there is nowhere left to write; keep draining so callers never block.
                }
            }
        }
    }
}
