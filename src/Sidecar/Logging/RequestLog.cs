using System.Diagnostics;
using System.Threading.Channels;
using Serilog.Events;
using Serilog.Parsing;

namespace InferenceSidecar.Logging;

/// <summary>
/// The request line's values, taken on the request thread as they are (no formatting, no string building, no property
/// binding), and turned into the Serilog event by <see cref="RequestLog"/>'s writer thread.
/// </summary>
internal sealed record RequestLogEntry(
    DateTimeOffset Timestamp, ActivityTraceId TraceId, ActivitySpanId SpanId, string RequestId, string ConnectionId, string Route,
    PathString PathBase, PathString Path, QueryString Query, string Model, string User, int Status, int UpstreamStatus,
    double DurationMs, double? TtftMs, long InputTokens, long OutputTokens, double CostUsd, string Cache, string Limit);

/// <summary>
/// The request log behind one bounded queue: a request thread hands over a <see cref="RequestLogEntry"/> (about a
/// microsecond) and one writer thread builds the Serilog event (the same template, properties, trace and span ids, and
/// ASP.NET Core scope properties that the <c>ILogger</c> path wrote) and passes it to the Serilog pipeline (enrichers,
/// then the async sink). When the queue is full the request thread writes its own event (back-pressure; nothing is
/// dropped). Disposal (at host shutdown, before the Serilog logger) drains the queue.
/// </summary>
internal sealed class RequestLog : IDisposable
{
    public const int Capacity = 8192;

    private static readonly MessageTemplate Template = new MessageTemplateParser().Parse(
        "{RequestId} trace={TraceId} {Route} {Path} {Model} user={User} status={Status} upstream={UpstreamStatus} {DurationMs} ms ttft={TtftMs} ms tokens={InputTokens}/{OutputTokens} cost={CostUsd} cache={Cache} limit={Limit}");

    private static readonly LogEventProperty SourceContext = new("SourceContext", new ScalarValue(Category));
    private static readonly LogEventProperty EventId = new("EventId", new StructureValue([new LogEventProperty("Id", new ScalarValue(1)), new LogEventProperty("Name", new ScalarValue("LogRequest"))]));

    private readonly Serilog.ILogger _logger;
    private readonly Channel<RequestLogEntry> _queue = Channel.CreateBounded<RequestLogEntry>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Thread _writer;

    public RequestLog(Serilog.ILogger logger)
    {
        _logger = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, Category); // level overrides by category apply
        _writer = new Thread(Drain) { IsBackground = true, Name = "request-log" };
        _writer.Start();
    }

    public const string Category = "InferenceSidecar.Requests";

    public bool IsEnabled => _logger.IsEnabled(LogEventLevel.Information);

    public void Write(RequestLogEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            Emit(entry); // full (or shut down): write it here rather than lose it
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Join(TimeSpan.FromSeconds(5));
    }

    private void Drain()
    {
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var entry))
            {
                Emit(entry);
            }
        }
    }

    private void Emit(RequestLogEntry e)
    {
        try
        {
            var path = e.PathBase.Add(e.Path).ToString();
            var traceId = e.TraceId == default ? "-" : e.TraceId.ToHexString();
            LogEventProperty[] properties =
            [
                new("RequestId", new ScalarValue(e.RequestId)),
                new("TraceId", new ScalarValue(traceId)),
                new("Route", new ScalarValue(e.Route)),
                new("Path", new ScalarValue(e.Query.HasValue ? path + Security.QueryRedaction.Redact(e.Query.Value!) : path)),
                new("Model", new ScalarValue(e.Model)),
                new("User", new ScalarValue(e.User)),
                new("Status", new ScalarValue(e.Status)),
                new("UpstreamStatus", new ScalarValue(e.UpstreamStatus)),
                new("DurationMs", new ScalarValue(e.DurationMs)),
                new("TtftMs", new ScalarValue(e.TtftMs)),
                new("InputTokens", new ScalarValue(e.InputTokens)),
                new("OutputTokens", new ScalarValue(e.OutputTokens)),
                new("CostUsd", new ScalarValue(e.CostUsd)),
                new("Cache", new ScalarValue(e.Cache)),
                new("Limit", new ScalarValue(e.Limit)),
                SourceContext,
                EventId,
                new("RequestPath", new ScalarValue(e.Path.Value ?? string.Empty)),
                new("ConnectionId", new ScalarValue(e.ConnectionId)),
            ];
            _logger.Write(new LogEvent(e.Timestamp, LogEventLevel.Information, null, Template, properties, e.TraceId, e.SpanId));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A sink's failure must not end the writer thread (Serilog itself does not throw from Write).
        }
    }
}
