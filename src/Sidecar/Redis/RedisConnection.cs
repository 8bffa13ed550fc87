using InferenceSidecar.Metrics;
using StackExchange.Redis;

namespace InferenceSidecar.Redis;

/// <summary>
/// The one shared <see cref="ConnectionMultiplexer"/> for <c>ConnectionStrings:Redis</c>. It connects in the background
/// (<c>abortConnect=false</c>), so the sidecar starts and serves while Redis is down, and reconnects by itself.
/// Every call goes through <see cref="RunAsync{T}"/>, which bounds it by <c>RedisTimeout</c>.
/// While Redis is failing, one fail-fast call at a time — at most one per <see cref="ProbeInterval"/> — probes it and
/// every other fail-fast call fails at once: a frozen Redis costs one request the timeout, not every request.
/// </summary>
internal sealed partial class RedisConnection : IDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;
    private readonly SidecarMetrics _metrics;
    private readonly ILogger<RedisConnection> _logger;
    private readonly TimeProvider _time;
    private readonly long _probeTicks;
    private int _failing;
    private int _probing;
    private long _nextProbe;

    public RedisConnection(string connectionString, SidecarMetrics metrics, ILogger<RedisConnection> logger, TimeProvider? time = null)
    {
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _probeTicks = (long)(ProbeInterval.TotalSeconds * _time.TimestampFrequency);
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        if (!connectionString.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.ConnectTimeout = 1000;
        }

        if (!connectionString.Contains("connectRetry", StringComparison.OrdinalIgnoreCase))
        {
            options.ConnectRetry = 1;
        }

        options.KeepAlive = 1;
        _multiplexer = ConnectionMultiplexer.Connect(options);
    }

    /// <summary>While Redis is failing, how often a call may try it (the others fail at once).</summary>
    public static TimeSpan ProbeInterval { get; } = TimeSpan.FromMilliseconds(100);

    public bool IsConnected => _multiplexer.IsConnected;

    public IDatabase Database => _multiplexer.GetDatabase();

    public ConnectionMultiplexer Multiplexer => _multiplexer;

    /// <summary>True when a connected server is a Redis Cluster node: a script's keys must then share one hash slot.</summary>
    public bool IsCluster
    {
        get
        {
            foreach (var endpoint in _multiplexer.GetEndPoints())
            {
                if (_multiplexer.GetServer(endpoint) is { IsConnected: true, ServerType: ServerType.Cluster })
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Runs one Redis call with a timeout; any failure is counted, logged once per outage and rethrown as
    /// <see cref="RedisUnavailableException"/>. While Redis is failing, a <paramref name="failFast"/> call (one a request
    /// waits on) that is not the probe throws at once without touching Redis, and is not counted as a Redis error;
    /// background calls (<paramref name="failFast"/> false) always try Redis, and their success ends the outage too.
    /// </summary>
    public Task<T> RunAsync<T>(Func<IDatabase, Task<T>> call, TimeSpan timeout, CancellationToken cancellationToken, bool failFast = true)
    {
        if (!failFast || Volatile.Read(ref _failing) == 0)
        {
            return CallAsync(call, timeout, probe: false, cancellationToken);
        }

        var now = _time.GetTimestamp();
        if (now < Interlocked.Read(ref _nextProbe) || Interlocked.CompareExchange(ref _probing, 1, 0) != 0)
        {
            return Task.FromException<T>(new RedisUnavailableException("SkippedWhileFailing"));
        }

        Interlocked.Exchange(ref _nextProbe, now + _probeTicks);
        return CallAsync(call, timeout, probe: true, cancellationToken);
    }

    private async Task<T> CallAsync<T>(Func<IDatabase, Task<T>> call, TimeSpan timeout, bool probe, CancellationToken cancellationToken)
    {
        try
        {
            // ForceYielding: StackExchange.Redis 1.x completes async calls on its completion queue, which one worker
            // drains at a time; run inline there, the rest of every request after a Redis call (the whole proxying)
            // would be serialized on that one thread. Resume on the thread pool instead.
            var result = await call(_multiplexer.GetDatabase()).WaitAsync(timeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            if (Interlocked.Exchange(ref _failing, 0) == 1)
            {
                LogRecovered(_logger);
            }

            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or RedisTimeoutException or RedisConnectionException or OperationCanceledException)
        {
            _metrics.RedisError();
            if (Interlocked.Exchange(ref _failing, 1) == 0)
            {
                Interlocked.Exchange(ref _nextProbe, _time.GetTimestamp() + _probeTicks);
                LogFailing(_logger, ex.GetType().Name);
            }

            throw new RedisUnavailableException(ex.GetType().Name);
        }
        finally
        {
            if (probe)
            {
                Volatile.Write(ref _probing, 0);
            }
        }
    }

    public void Dispose() => _multiplexer.Dispose();

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Redis is unavailable ({ExceptionType}); shared limits fall back per FailureMode until it returns.")]
    private static partial void LogFailing(ILogger logger, string exceptionType);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Redis is reachable again; shared limits are enforced.")]
    private static partial void LogRecovered(ILogger logger);
}
