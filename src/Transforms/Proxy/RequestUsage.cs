namespace InferenceSidecar.Proxy;

/// <summary>What one served request used, as accounted: provider-reported tokens and their cost in USD.</summary>
internal sealed record RequestUsage(long InputTokens, long OutputTokens, double CostUsd);
