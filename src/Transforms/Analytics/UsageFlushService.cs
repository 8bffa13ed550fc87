using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;

namespace InferenceSidecar.Analytics;

/// <summary>
/// Flushes <see cref="RedisUsageStore"/> every <c>Sidecar:Usage:FlushInterval</c>, and once more at shutdown. A flush
/// that fails, for whatever reason, keeps its rows for the next one: it never ends this loop (an exception escaping a
/// background service stops the host).
/// </summary>
internal sealed partial class UsageFlushService(RedisUsageStore store, LiveOptions<SidecarOptions> live, TimeProvider time, ILogger<UsageFlushService> logger) : BackgroundService
{
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await store.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is RedisUnavailableException or OperationCanceledException)
        {
            // Redis is gone at shutdown: what this replica counted since the last flush is lost with it. Said, with how
            // much, so an operator can tell a usage report that is short by it (e.g. a rolling deploy during an outage).
            var lost = await store.UnsentRequestsAsync(TimeSpan.FromSeconds(1));
            LogLostAtShutdown(logger, ex is RedisUnavailableException unavailable ? unavailable.Reason : ex.GetType().Name, lost?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(live.Current.Usage.FlushInterval, time, stoppingToken);
                await store.FlushAsync(stoppingToken);
            }
            catch (RedisUnavailableException)
            {
                // kept for the next flush; the outage is already counted and logged by RedisConnection
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Not expected (RedisConnection turns every client failure into RedisUnavailableException); kept for the
                // next flush all the same. The type only: an exception's message may quote what it was given.
                LogFlushFailed(logger, ex.GetType().Name);
            }
        }
    }

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "Usage flush at shutdown failed ({Reason}); {Requests} requests this replica counted are not in the shared usage report.")]
    private static partial void LogLostAtShutdown(ILogger logger, string reason, string requests);

    [LoggerMessage(EventId = 404, Level = LogLevel.Error, Message = "Usage flush failed ({ExceptionType}); its rows are kept for the next flush.")]
    private static partial void LogFlushFailed(ILogger logger, string exceptionType);
}
