namespace InferenceSidecar.Usage;

/// <summary>
/// Set by the limiter on requests whose usage it will reconcile; <see cref="Recording"/> is set by the cache on misses
/// it may store, to receive exactly the bytes the client was sent.
/// </summary>
internal sealed record UsageTracking(bool StripInjectedUsage)
{
    public ResponseRecording? Recording { get; set; }
}
