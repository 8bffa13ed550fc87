using InferenceSidecar.Redis;

namespace InferenceSidecar.Tests.Infrastructure;

internal static class RedisConnections
{
    /// <summary>
    /// Waits until the connection (which connects in the background) serves a command. Uses background calls, which
    /// the probe gate never turns away, and whose success clears a failure the early attempts may have recorded.
    /// </summary>
    public static async Task ServingAsync(this RedisConnection connection)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await connection.RunAsync(db => db.PingAsync(), TimeSpan.FromSeconds(5), CancellationToken.None, failFast: false);
                return;
            }
            catch (RedisUnavailableException) when (attempt < 100)
            {
                await Task.Delay(50);
            }
        }
    }
}
