using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>
/// <c>Sidecar:RateLimits:Queue</c>: instead of an immediate 429, a request whose refusal clears within
/// <see cref="MaxWait"/> waits (FIFO per user and model, on this replica) and then tries its reservation again.
/// </summary>
internal sealed class LimitQueueOptions
{
    /// <summary>The longest a request may wait for capacity; <c>0</c> (the default) turns waiting off.</summary>
    [TimeSpanRange("00:00:00", "00:10:00", ErrorMessage = "Sidecar:RateLimits:Queue:MaxWait must be between 0 and 10 minutes.")]
    public TimeSpan MaxWait { get; set; }

    /// <summary>Requests waiting at once on this replica, across users; one more gets 429 at once.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Sidecar:RateLimits:Queue:MaxQueue must be between 1 and 1000000.")]
    public int MaxQueue { get; set; } = 100;
}
