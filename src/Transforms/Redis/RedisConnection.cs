using System.Collections.Concurrent;
using InferenceSidecar.Metrics;
using StackExchange.Redis;

namespace InferenceSidecar.Redis;

/// <summary>
/// The one shared <see cref="ConnectionMultiplexer"/> for <c>ConnectionStrings:Redis</c>. It connects in the background
/// (<c>abortConnect=false</c>), so the sidecar starts and serves while Redis is down, and reconnects by itself.
/// </summary>
/// <remarks>
/// <para>
/// <b>Warm-up.</b> <see cref="WarmUpAsync"/> connects and loads every registered Lua script (<c>SCRIPT LOAD</c> on each
/// primary) before <c>/health/ready</c> says ready, and request-path calls made before the first attempt has ended wait
/// for it: a cold start never sends its first burst to a connection that is still handshaking.
/// </para>
/// <para>
/// <b>When Redis counts as down.</b> A call that has no answer after <c>RedisTimeout</c> is <i>late</i>, not failed.
/// A late call waits on while Redis is visibly alive (some call got an answer within the last
/// <see cref="SilenceFactor"/> × <c>RedisTimeout</c>): a healthy Redis behind a busy client (a cold burst, a GC pause)
/// answers every call and admits exactly. Redis is declared down, and every waiting call fails at once to the
/// <c>FailureMode</c> fallback, when the connection is lost, when it has been silent for that long with calls
/// outstanding, or when a call gets no answer within <see cref="MaxWait"/>.
/// </para>
/// <para>
/// <b>While down</b>, one fail-fast call at a time, at most one per <see cref="ProbeInterval"/>, probes Redis with the
/// plain <c>RedisTimeout</c>, and every other fail-fast call fails at once: a frozen Redis costs the requests of its
/// first moments a wait, not every request. Background calls (<c>failFast: false</c>) always try Redis, and their
/// success ends the outage too.
/// </para>
/// </remarks>
internal sealed partial class RedisConnection : IDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;
    private readonly SocketManager _sockets;
    private readonly SidecarMetrics _metrics;
    private readonly ILogger<RedisConnection> _logger;
    private readonly TimeProvider _time;
    private readonly long _probeTicks;
    private readonly ConcurrentDictionary<string, byte> _scripts = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _outage = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _failing;
    private int _probing;
    private int _warm;
    private long _nextProbe;
    private long _lastAnswer;
    private long _answeredSeen = -1;

    public RedisConnection(string connectionString, SidecarMetrics metrics, ILogger<RedisConnection> logger, TimeProvider? time = null)
    {
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _probeTicks = ToTicks(ProbeInterval);
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

        if (!connectionString.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.AsyncTimeout = (int)MaxWait.TotalMilliseconds;
        }

        options.KeepAlive = 1;

        // A command issued while disconnected fails at once instead of waiting in the multiplexer's backlog: a probe that
        // the sidecar already gave up on (its request served by the fallback) must not run when Redis returns, or every
        // probe of an outage would take from its user's shared buckets afterwards.
        options.BacklogPolicy = BacklogPolicy.FailFast;

        // Replies are read on two dedicated threads, not the thread pool: under a cold-start burst the pool's queue holds
        // hundreds of request work items, and a reader queued behind them made a healthy Redis look silent.
        _sockets = new SocketManager("sidecar-redis", workerCount: 2, SocketManager.SocketManagerOptions.UseHighPrioritySocketThreads);
        options.SocketManager = _sockets;
        _multiplexer = ConnectionMultiplexer.Connect(options);
        _multiplexer.ConnectionFailed += OnConnectionFailed;
        _multiplexer.ConnectionRestored += OnConnectionRestored;
    }

    /// <summary>While Redis is down, how often a call may try it (the others fail at once).</summary>
    public static TimeSpan ProbeInterval { get; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How many <c>RedisTimeout</c>s of silence, with calls outstanding, declare Redis down.</summary>
    public const int SilenceFactor = 10;

    /// <summary>The longest any call waits for an answer, however alive Redis looks.</summary>
    public static TimeSpan MaxWait { get; } = TimeSpan.FromSeconds(2);

    public bool IsConnected => _multiplexer.IsConnected;

    /// <summary>True once the connection has served and the scripts are loaded.</summary>
    public bool IsWarm => Volatile.Read(ref _warm) == 1;

    /// <summary>True while Redis is declared down (request-path calls fall back).</summary>
    public bool IsFailing => Volatile.Read(ref _failing) == 1;

    /// <summary>Completes when the first warm-up attempt has ended, whether it succeeded or not.</summary>
    public Task FirstAttempt => _firstAttempt.Task;

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

    /// <summary>Registers a Lua script to load on every primary during warm-up and after each reconnect.</summary>
    public void RegisterScript(string script) => _scripts.TryAdd(script, 0);

    /// <summary>
    /// Connects and loads the registered scripts, retrying until it succeeds or <paramref name="cancellationToken"/> ends.
    /// <see cref="FirstAttempt"/> completes after the first try, so readiness and early requests wait at most one try.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (await TryLoadScriptsAsync())
                {
                    Volatile.Write(ref _warm, 1);
                    Answered();
                    LogWarm(_logger, _scripts.Count);
                    return;
                }

                _firstAttempt.TrySetResult();
                await Task.Delay(ProbeInterval * 5, _time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _firstAttempt.TrySetResult();
        }
    }

    private async Task<bool> TryLoadScriptsAsync()
    {
        if (!_multiplexer.IsConnected)
        {
            // The background connect may still be in its first handshake: give it up to its connect timeout.
            var until = _time.GetTimestamp() + ToTicks(TimeSpan.FromMilliseconds(_multiplexer.TimeoutMilliseconds + 1000));
            while (!_multiplexer.IsConnected && _time.GetTimestamp() < until)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time);
            }
        }

        try
        {
            foreach (var endpoint in _multiplexer.GetEndPoints())
            {
                var server = _multiplexer.GetServer(endpoint);
                if (!server.IsConnected || server.IsReplica)
                {
                    continue;
                }

                await server.PingAsync().WaitAsync(MaxWait, _time);
                foreach (var script in _scripts.Keys)
                {
                    await server.ScriptLoadAsync(script).WaitAsync(MaxWait, _time);
                }
            }

            // One round trip through the interactive connection the request path uses.
            await _multiplexer.GetDatabase().PingAsync().WaitAsync(MaxWait, _time);
            return true;
        }
        catch (Exception ex)
        {
            // Any failure, not only RedisException and TimeoutException (see CallAsync): a warm-up that threw would stop
            // the host, and the reload after a reconnect runs unobserved.
            LogWarmUpFailed(_logger, ex.GetType().Name);
            return false;
        }
    }

    /// <summary>
    /// Runs one Redis call; a failure is counted, logged once per outage and rethrown as
    /// <see cref="RedisUnavailableException"/>. <paramref name="timeout"/> is <c>RedisTimeout</c>: see the remarks on the
    /// class for what a call past it does. While Redis is down, a <paramref name="failFast"/> call (one a request waits
    /// on) that is not the probe throws at once without touching Redis; background calls (<paramref name="failFast"/>
    /// false) always try Redis with the plain timeout. An <paramref name="inline"/> caller resumes on whichever thread
    /// completes the call (for short hand-over code such as a batch flight); any other resumes on the thread pool.
    /// </summary>
    public Task<T> RunAsync<T>(Func<IDatabase, Task<T>> call, TimeSpan timeout, CancellationToken cancellationToken, bool failFast = true, bool inline = false)
    {
        if (!failFast)
        {
            return CallAsync(call, timeout, CallKind.Background, inline, cancellationToken);
        }

        if (Volatile.Read(ref _failing) == 0)
        {
            return IsWarm || _firstAttempt.Task.IsCompleted
                ? CallAsync(call, timeout, CallKind.Request, inline, cancellationToken)
                : AfterFirstAttemptAsync(call, timeout, inline, cancellationToken);
        }

        var now = _time.GetTimestamp();
        if (now < Interlocked.Read(ref _nextProbe) || Interlocked.CompareExchange(ref _probing, 1, 0) != 0)
        {
            return Task.FromException<T>(new RedisUnavailableException("SkippedWhileFailing"));
        }

        Interlocked.Exchange(ref _nextProbe, now + _probeTicks);
        return CallAsync(call, timeout, CallKind.Probe, inline, cancellationToken);
    }

    private async Task<T> AfterFirstAttemptAsync<T>(Func<IDatabase, Task<T>> call, TimeSpan timeout, bool inline, CancellationToken cancellationToken)
    {
        await _firstAttempt.Task.WaitAsync(cancellationToken);
        return await RunAsync(call, timeout, cancellationToken, inline: inline);
    }

    private async Task<T> CallAsync<T>(Func<IDatabase, Task<T>> call, TimeSpan timeout, CallKind kind, bool inline, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var outage = _outage.Task;
        try
        {
            var pending = call(_multiplexer.GetDatabase());
            T result;
            try
            {
                // ForceYielding (unless inline): the code after this await may be the rest of the request (the whole
                // proxying, and on a cold start its JIT); it must never hold up whichever thread completed the call.
                result = await pending.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(inline ? ConfigureAwaitOptions.None : ConfigureAwaitOptions.ForceYielding);
            }
            catch (TimeoutException) when (kind == CallKind.Request)
            {
                result = await WaitWhileAliveAsync(pending, timeout, started, outage, cancellationToken);
            }

            Answered();
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // Anything else the call ends with is Redis giving no usable answer. Besides its own RedisException and
            // TimeoutException, StackExchange.Redis faults the calls in flight with whatever its reader threw when it
            // tears a connection down mid-read: with Redis frozen under load, the heartbeat giving up on the connection
            // faulted calls with InvalidOperationException ("Reading is not allowed after reader was completed"), which
            // answered one request in 5,000 with a 500 and, through the usage flush, stopped the host.
            var reason = ex is RedisUnavailableException unavailable ? unavailable.Reason : ex.GetType().Name;
            if (reason != OutageReason)
            {
                _metrics.RedisError();
                if (ex is not RedisServerException)
                {
                    // A server error (a script bug, a wrong type) is an answer: Redis is up. Anything else is an outage.
                    DeclareOutage(reason);
                }
            }

            throw ex as RedisUnavailableException ?? new RedisUnavailableException(reason);
        }
        finally
        {
            if (kind == CallKind.Probe)
            {
                Volatile.Write(ref _probing, 0);
            }
        }
    }

    private const string OutageReason = "RedisDown";

    /// <summary>Waits for a late call while Redis is visibly alive; fails it when Redis is declared down.</summary>
    private async Task<T> WaitWhileAliveAsync<T>(Task<T> pending, TimeSpan timeout, long started, Task outage, CancellationToken cancellationToken)
    {
        var silence = ToTicks(timeout) * SilenceFactor;
        var deadline = started + ToTicks(MaxWait);
        var confirming = false;
        while (true)
        {
            if (pending.IsCompleted)
            {
                return await pending.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            }

            ObserveProgress();
            var now = _time.GetTimestamp();
            var lastSign = Math.Max(Interlocked.Read(ref _lastAnswer), started);
            if (outage.IsCompleted)
            {
                Observe(pending);
                throw new RedisUnavailableException(OutageReason);
            }

            var silent = now - lastSign >= silence;
            if (now >= deadline || !_multiplexer.IsConnected || (silent && confirming))
            {
                Observe(pending);
                throw new TimeoutException("No answer from Redis.");
            }

            // Silent: confirm it once, one RedisTimeout later (after a stall of this process, a GC pause on a busy node,
            // the timers can fire before the reader has caught up with the replies that arrived meanwhile). Alive but
            // busy: wait until the silence would reach its limit. Either way the answer or an outage ends the wait.
            confirming = silent;
            var wait = silent ? timeout : TimeSpan.FromSeconds(Math.Max(1.0, Math.Min(lastSign + silence, deadline) - now) / _time.TimestampFrequency);
            using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(pending, outage, Task.Delay(wait, _time, delay.Token)).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            await delay.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static void Observe(Task task) => task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Marks Redis as answering when the multiplexer has read replies since the last look. Replies are read on the
    /// multiplexer's own socket threads, so this sees a live Redis even while this process's thread pool is too busy to
    /// run the continuations of the calls (a cold burst). Slow path only: it reads the connection counters.
    /// </summary>
    private void ObserveProgress()
    {
        var counters = _multiplexer.GetCounters().Interactive;
        if (counters.SentItemsAwaitingResponse == 0)
        {
            // Redis owes no reply: everything sent has been answered, so whatever is late is late on this side (a cold
            // burst's thread pool has not yet run the completions). Without this, a burst whose replies had all been
            // read before the first look was taken for silence, and three cold replicas admitted up to 3× the limit.
            MarkAnswered();
        }

        var answered = counters.OperationCount - counters.SentItemsAwaitingResponse - counters.PendingUnsentItems;
        var seen = Interlocked.Exchange(ref _answeredSeen, answered);
        if (seen != -1 && seen != answered)
        {
            MarkAnswered(); // replies were read since the last look (the first look only sets the baseline)
        }
    }

    /// <summary>Redis answered: note when, and end an outage (read first, so the usual call writes nothing shared).</summary>
    private void Answered()
    {
        MarkAnswered();
        if (Volatile.Read(ref _failing) == 1 && Interlocked.Exchange(ref _failing, 0) == 1)
        {
            LogRecovered(_logger);
        }
    }

    private void MarkAnswered() => Interlocked.Exchange(ref _lastAnswer, _time.GetTimestamp());

    private void DeclareOutage(string reason)
    {
        if (Interlocked.Exchange(ref _failing, 1) == 0)
        {
            Interlocked.Exchange(ref _nextProbe, _time.GetTimestamp() + _probeTicks);
            var outage = Interlocked.Exchange(ref _outage, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            outage.TrySetResult();
            LogFailing(_logger, reason);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            DeclareOutage(e.FailureType.ToString());
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive)
        {
            return;
        }

        // A restarted Redis has lost its scripts: load them again, then let the next call probe at once.
        _ = Task.Run(async () =>
        {
            if (await TryLoadScriptsAsync())
            {
                Volatile.Write(ref _warm, 1);
            }

            Interlocked.Exchange(ref _nextProbe, 0);
        });
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    public void Dispose()
    {
        _multiplexer.ConnectionFailed -= OnConnectionFailed;
        _multiplexer.ConnectionRestored -= OnConnectionRestored;
        _multiplexer.Dispose();
        _sockets.Dispose();
    }

    private enum CallKind
    {
        Request,
        Probe,
        Background,
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Redis is unavailable ({Reason}); shared limits fall back per FailureMode until it returns.")]
    private static partial void LogFailing(ILogger logger, string reason);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Redis is reachable again; shared limits are enforced.")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Redis connected and {ScriptCount} scripts loaded; shared limits are enforced.")]
    private static partial void LogWarm(ILogger logger, int scriptCount);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Redis warm-up failed ({ExceptionType}); retrying in the background.")]
    private static partial void LogWarmUpFailed(ILogger logger, string exceptionType);
}
