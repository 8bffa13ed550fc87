using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;

namespace InferenceSidecar.Analytics;

/// <summary>Flushes <see cref="RedisUsageStore"/> every <c>Sidecar:Usage:FlushInterval</c>, and once more at shutdown.</summary>
internal sealed class UsageFlushService(RedisUsageStore store, LiveOptions<SidecarOptions> live, TimeProvider time) : BackgroundService
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
            // Redis is gone at shutdown: what this replica counted since the last flush is lost with it.
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
        }
    }
}
