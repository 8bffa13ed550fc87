using System.Diagnostics;
using InferenceSidecar.Logging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InferenceSidecar.Bench.Micro;

/// <summary>
/// The request line through the Production logging setup (AddSidecarLogging, stdout JSON behind the async queue; run
/// with stdout to /dev/null): µs on the calling (request) thread per line, and CPU µs of the whole process per line
/// (the writer threads included, queue drained), for the old ILogger/[LoggerMessage] call and the RequestLog hand-over.
/// </summary>
internal static partial class LogBench
{
    public static void Run(int rounds)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.AddSidecarLogging();
        using var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceSidecar.Requests");
        var log = app.Services.GetRequiredService<RequestLog>();
        using var activity = new Activity("bench").Start();
        var path = new PathString("/openai/v1/chat/completions");
        var query = new QueryString("?api-version=2024-10-21");

        void Old() => LogRequest(logger, "0HN7:00000001", Activity.Current?.TraceId.ToString() ?? "-", "openai",
            Security.QueryRedaction.Redact(path.Value + query.Value), "gpt-4o", "alice", 200, 200, 12.34, 5.67, 123, 45, 0.00012, "miss", "allowed");

        void New() => log.Write(new RequestLogEntry(TimeProvider.System.GetUtcNow(), Activity.Current!.TraceId, Activity.Current.SpanId, "0HN7:00000001", "0HN7",
            "openai", PathString.Empty, path, query, "gpt-4o", "alice", 200, 200, 12.34, 5.67, 123, 45, 0.00012, "miss", "allowed"));

        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, write) in new[] { ("ILogger [LoggerMessage]", (Action)Old), ("RequestLog hand-over", New) })
            {
                var (caller, cpu) = Measure(write);
                Console.Error.WriteLine($"request log {name,-24} caller {caller,6:F2} µs/line   process CPU {cpu,6:F2} µs/line");
            }
        }
    }

    private static (double Caller, double Cpu) Measure(Action write)
    {
        const int Batch = 2000; // under both queues' capacity: the caller never waits for room
        double callerTicks = 0, cpuTotal = 0;
        var lines = 0;
        var process = Process.GetCurrentProcess();
        for (var b = 0; b < 20; b++)
        {
            Thread.Sleep(150); // drained
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < Batch; i++)
            {
                write();
            }

            callerTicks += Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            Thread.Sleep(150);
            process.Refresh();
            cpuTotal += (process.TotalProcessorTime - cpu).TotalMicroseconds;
            lines += Batch;
        }

        return (callerTicks / lines, cpuTotal / lines);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "{RequestId} trace={TraceId} {Route} {Path} {Model} user={User} status={Status} upstream={UpstreamStatus} {DurationMs} ms ttft={TtftMs} ms tokens={InputTokens}/{OutputTokens} cost={CostUsd} cache={Cache} limit={Limit}")]
    private static partial void LogRequest(
        ILogger logger, string requestId, string traceId, string route, string path, string model, string user, int status, int upstreamStatus, double durationMs,
        double? ttftMs, long inputTokens, long outputTokens, double costUsd, string cache, string limit);
}
