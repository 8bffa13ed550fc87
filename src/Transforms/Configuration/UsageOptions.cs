using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary><c>Sidecar:Usage</c>: per user, model and day usage analytics (in memory, or in Redis when configured).</summary>
internal sealed class UsageOptions
{
    /// <summary>Days of usage kept (memory: pruned daily; Redis: each day's hash expires after this).</summary>
    [Range(1, 3660, ErrorMessage = "Sidecar:Usage:RetentionDays must be between 1 and 3660.")]
    public int RetentionDays { get; set; } = 35;

    /// <summary>With Redis, how often this replica adds what it counted to the shared totals (one pipelined batch).</summary>
    [TimeSpanRange("00:00:00.010", "00:10:00", ErrorMessage = "Sidecar:Usage:FlushInterval must be between 10 ms and 10 min.")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Distinct (day, user, model) rows kept in memory at most; past it new rows count under user <c>other</c>.</summary>
    [Range(100, 10_000_000, ErrorMessage = "Sidecar:Usage:MaxRows must be between 100 and 10000000.")]
    public int MaxRows { get; set; } = 100_000;
}
