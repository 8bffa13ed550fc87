using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Sinks.Async;

namespace InferenceSidecar.Logging;

/// <summary>
/// The Production stdout writer behind Serilog.Sinks.Async's worker (the only caller of <see cref="Emit"/>): it formats
/// each event into a 64 KB buffer and writes the buffer out when the async queue is empty (or the buffer full), so a
/// burst of lines costs one system call instead of one per line as Serilog's console sink does. No line waits: the
/// worker only skips the flush while more events are already queued, and the next one flushes.
/// </summary>
internal sealed class StdoutSink(ITextFormatter formatter, Stream output) : ILogEventSink, IAsyncLogEventSinkMonitor, IDisposable
{
    private readonly StreamWriter _writer = new(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 64 * 1024) { AutoFlush = false };
    private IAsyncLogEventSinkInspector? _queue;

    public void Emit(LogEvent logEvent)
    {
        try
        {
            formatter.Format(logEvent, _writer);
            if (_queue is not { Count: > 0 })
            {
                _writer.Flush();
            }
        }
        catch (IOException)
        {
            // stdout is gone (closed pipe): there is nowhere left to write.
        }
    }

    public void StartMonitoring(IAsyncLogEventSinkInspector inspector) => _queue = inspector;

    public void StopMonitoring(IAsyncLogEventSinkInspector inspector) => _queue = null;

    public void Dispose()
    {
        try
        {
            _writer.Flush();
        }
        catch (IOException)
        {
        }
    }
}
