using System.Text.Json;
using InferenceSidecar.Audit;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Operations;

/// <summary>With <c>Sidecar:CacheWarm:File</c> set: reads the file at start and warms its requests once the listeners are up.</summary>
internal sealed partial class CacheWarmFileService(IOptions<CacheWarmOptions> options, CacheWarmer warmer, AdminAudit audit, IHostApplicationLifetime lifetime, ILogger<CacheWarmFileService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var file = options.Value.File;
        if (string.IsNullOrWhiteSpace(file))
        {
            return;
        }

        List<CacheWarmer.Item>? items;
        string? error;
        try
        {
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(file, stoppingToken));
            (items, error) = CacheWarmer.Parse(json.RootElement, options.Value.MaxItems);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            (items, error) = (null, e.GetType().Name);
        }

        if (items is null)
        {
            LogBadFile(logger, error ?? "unreadable");
            audit.Write("config", "cache.warm", "file", "rejected");
            return;
        }

        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }

        var results = await warmer.WarmAsync(items, stoppingToken);
        audit.Write("config", "cache.warm", "file", Summary(results));
    }

    public static string Summary(List<CacheWarmer.Outcome> results) =>
        $"stored={results.Count(r => r.Result == "stored")} already_cached={results.Count(r => r.Result == "already_cached")} refused={results.Count(r => r.Result == "refused")} failed={results.Count(r => r.Result == "failed")}";

    [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Sidecar:CacheWarm:File could not be used: {Error}")]
    private static partial void LogBadFile(ILogger logger, string error);
}
