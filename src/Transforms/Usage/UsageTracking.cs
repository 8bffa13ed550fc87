namespace InferenceSidecar.Transforms.Usage;

/// <summary>Set by the limiter on requests whose usage it will reconcile.</summary>
internal sealed record UsageTracking(bool StripInjectedUsage);
