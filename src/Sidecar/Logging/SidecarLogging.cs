using Serilog;
using Serilog.Configuration;
using Serilog.Formatting.Compact;
using Serilog.Sinks.Async;

namespace InferenceSidecar.Logging;

internal static class SidecarLogging
{
    /// <summary>Events the background writer holds; past it a logging call waits for room (nothing is dropped).</summary>
    public const int QueueCapacity = 8192;

    /// <summary>
    /// Serilog behind Microsoft.Extensions.Logging: one compact JSON object per line (CLEF, with the rendered message
    /// <c>@m</c>) on stdout in Production, written by <see cref="StdoutSink"/>; readable text via Serilog's console sink
    /// in Development. Both sit behind Serilog.Sinks.Async's queue (<see cref="Queued"/>), so no request thread formats
    /// or writes a line, and a full queue blocks rather than drops. Query-string values are removed from every event
    /// first (<see cref="Security.QueryRedaction"/>). Levels come from the <c>Serilog:MinimumLevel</c> section (<see cref="LogLevels"/>).
    /// <paramref name="extra"/> lets tests add a sink.
    /// </summary>
    public static WebApplicationBuilder AddSidecarLogging(this WebApplicationBuilder builder, Action<LoggerConfiguration>? extra = null)
    {
        var development = builder.Environment.IsDevelopment();
        var configuration = new LoggerConfiguration()
            .ConfigureLevels(builder.Configuration) // in code: Serilog's configuration reader is not AOT-safe (LogLevels)
            .Enrich.FromLogContext()
            .Enrich.With(Security.QueryRedaction.Enricher); // query values never reach a log line, at any level
        if (development)
        {
            configuration.WriteTo.Queued(to => to.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}"));
        }
        else
        {
            var stdout = new StdoutSink(new RenderedCompactJsonFormatter(), Console.OpenStandardOutput());
            configuration.WriteTo.Queued(to => to.Sink(stdout), monitor: stdout);
        }

        extra?.Invoke(configuration);

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace); // Serilog's MinimumLevel decides.
        var logger = configuration.CreateLogger();
        builder.Logging.AddSerilog(logger, dispose: true);
        builder.Services.AddSingleton(_ => new RequestLog(logger)); // created after the logger provider, so disposed (drained) before it
        return builder;
    }

    /// <summary>
    /// Sinks configured by <paramref name="write"/> run on one background worker behind a queue of
    /// <paramref name="capacity"/> events. When the queue is full the logging call blocks until there is room
    /// (<c>blockWhenFull</c>): back-pressure slows the caller instead of losing lines. Disposing the logger drains the queue.
    /// </summary>
    public static LoggerConfiguration Queued(
        this LoggerSinkConfiguration to, Action<LoggerSinkConfiguration> write, int capacity = QueueCapacity, IAsyncLogEventSinkMonitor? monitor = null) =>
        to.Async(write, bufferSize: capacity, blockWhenFull: true, monitor: monitor);
}
