using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>A Serilog sink that keeps every event, rendered exactly as the Production JSON console lines are.</summary>
internal sealed class LogCapture : ILogEventSink
{
    private readonly RenderedCompactJsonFormatter _formatter = new();
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public IReadOnlyCollection<LogEvent> Events => _events;

    public string All => string.Join('\n', _lines);

    /// <summary>
    /// Waits (at most 5 s) for an event matching <paramref name="match"/>: the request line is written when the request's
    /// pipeline ends, which can be just after the client has the whole response.
    /// </summary>
    public async Task WaitForAsync(Func<LogEvent, bool> match)
    {
        for (var i = 0; i < 250 && !_events.Any(match); i++)
        {
            await Task.Delay(20);
        }
    }

    public void Emit(LogEvent logEvent)
    {
        using var writer = new StringWriter();
        _formatter.Format(logEvent, writer);
        _lines.Enqueue(writer.ToString().TrimEnd());
        _events.Enqueue(logEvent);
    }
}
