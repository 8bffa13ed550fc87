using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;

namespace InferenceSidecar.RateLimiting;

/// <summary>How a wait for capacity ended (a client that left ends it with <see cref="OperationCanceledException"/>).</summary>
internal enum QueueOutcome
{
    /// <summary>The retried reservation was admitted (or the store failed: the caller answers as for any decision).</summary>
    Admitted,

    /// <summary><c>MaxQueue</c> requests already wait on this replica: refused at once, as without a queue.</summary>
    Full,

    /// <summary>Capacity would not come back within <c>MaxWait</c>: refused with the last decision.</summary>
    Expired,
}

/// <summary>
/// <c>Sidecar:RateLimits:Queue</c>: a refused request whose refusal clears within <c>MaxWait</c> waits here instead
/// of getting 429, then tries its reservation again. The queue is bounded (<c>MaxQueue</c> waiting requests per
/// replica, across users) and FIFO per lane (a user and model): only the lane's head sleeps until its bucket refills
/// and retries, the others wait their turn, so later requests of a user never overtake earlier ones that wait. A wait
/// never runs past <c>MaxWait</c>: when the next refill would come too late the request is refused at once. A client
/// that leaves cancels its wait (a refused reservation took nothing, so nothing is charged). Time is read only from
/// <see cref="TimeProvider"/>.
/// </summary>
internal sealed class LimitQueue(LiveOptions<SidecarOptions> live, TimeProvider time, LimitQueueMetrics metrics)
{
    /// <summary>The shortest sleep between retries (a store's clock may differ from ours by a little).</summary>
    private static readonly TimeSpan MinRetry = TimeSpan.FromMilliseconds(5);

    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _depth;

    /// <summary>Requests waiting now on this replica.</summary>
    public int Depth => Volatile.Read(ref _depth);

    /// <summary>Whether a decision may wait: queueing is on, it was a refusal by a limit, and it clears within <c>MaxWait</c>.</summary>
    public bool Applies(LimitDecision decision)
    {
        if (decision.Allowed || decision.StoreUnavailable)
        {
            return false; // the common case: nothing to read
        }

        var maxWait = live.Current.RateLimits.Queue.MaxWait;
        return maxWait > TimeSpan.Zero && decision.Result.RetryAfter <= maxWait;
    }

    /// <summary>
    /// Waits for capacity in <paramref name="lane"/> and retries with <paramref name="retry"/> (a real, non-peek
    /// reservation) until admitted or <c>MaxWait</c> would be passed. Throws <see cref="OperationCanceledException"/>
    /// when <paramref name="aborted"/> fires.
    /// </summary>
    public async ValueTask<(LimitDecision Decision, QueueOutcome Outcome)> WaitAsync(
        string lane, LimitDecision refused, Func<CancellationToken, ValueTask<LimitDecision>> retry, CancellationToken aborted)
    {
        var options = live.Current.RateLimits.Queue;
        var depth = Interlocked.Increment(ref _depth);
        if (depth > options.MaxQueue)
        {
            Interlocked.Decrement(ref _depth);
            return (refused, QueueOutcome.Full);
        }

        metrics.Entered();
        var started = time.GetTimestamp();
        var outcome = "cancelled";
        var turn = Join(lane);
        var holding = false;
        try
        {
            var last = refused;
            holding = turn.Wait(0);
            if (!holding)
            {
                // Someone of this lane waits already: wait behind it (FIFO), at most until MaxWait is up.
                using var timeout = new CancellationTokenSource(Max(TimeSpan.Zero, options.MaxWait - time.GetElapsedTime(started)), time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, timeout.Token);
                try
                {
                    await turn.WaitAsync(linked.Token);
                    holding = true;
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    outcome = "expired";
                    return (last, QueueOutcome.Expired);
                }

                last = await retry(aborted); // those ahead took what they needed: see what is left now
            }

            while (!last.Allowed && !last.StoreUnavailable)
            {
                var wait = last.Result.RetryAfter < MinRetry ? MinRetry : last.Result.RetryAfter;
                if (time.GetElapsedTime(started) + wait > options.MaxWait)
                {
                    outcome = "expired";
                    return (last, QueueOutcome.Expired);
                }

                await Task.Delay(wait, time, aborted);
                last = await retry(aborted);
            }

            outcome = last.Allowed ? "admitted" : "expired";
            return (last, QueueOutcome.Admitted);
        }
        finally
        {
            if (holding)
            {
                turn.Release();
            }

            Leave(lane);
            Interlocked.Decrement(ref _depth);
            metrics.Left();
            metrics.Waited(outcome, time.GetElapsedTime(started).TotalSeconds);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private SemaphoreSlim Join(string lane)
    {
        lock (_gate)
        {
            if (!_lanes.TryGetValue(lane, out var state))
            {
                _lanes[lane] = state = new Lane();
            }

            state.Members++;
            return state.Turn;
        }
    }

    private void Leave(string lane)
    {
        lock (_gate)
        {
            var state = _lanes[lane];
            if (--state.Members == 0)
            {
                _lanes.Remove(lane);
                state.Turn.Dispose();
            }
        }
    }

    private sealed class Lane
    {
        public int Members { get; set; }

        // SemaphoreSlim queues async waiters and releases them in arrival order.
        public SemaphoreSlim Turn { get; } = new(1, 1);
    }
}
