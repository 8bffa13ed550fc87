using Serilog;
using Serilog.Formatting.Json;

namespace InferenceSidecar.Logging;

internal static class SidecarLogging
{
    /// <summary>
    /// Serilog behind Microsoft.Extensions.Logging: one JSON object per line in Production (written in batches
    /// off the request path by <see cref="BatchedStdoutSink"/>), readable text in
    /// Development. Levels come from the <c>Serilog:MinimumLevel</c> section. <paramref name="extra"/> lets tests add a sink.
    /// </summary>
    public static WebApplicationBuilder AddSidecarLogging(this WebApplicationBuilder builder, Action<LoggerConfiguration>? extra = null)
    {
        var configuration = new LoggerConfiguration()
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext()
            .Enrich.With(Security.QueryRedaction.Enricher); // query values never reach a log line, at any level
        configuration = builder.Environment.IsDevelopment()
            ? configuration.WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}")
            : configuration.WriteTo.Sink(new BatchedStdoutSink(new JsonFormatter(renderMessage: true), Console.OpenStandardOutput()));
        extra?.Invoke(configuration);

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace); // Serilog's MinimumLevel decides.
        builder.Logging.AddSerilog(configuration.CreateLogger(), dispose: true);
        return builder;
    }
}
