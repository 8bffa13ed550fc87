using System.Diagnostics;

namespace InferenceSidecar.Tracing;

/// <summary>The sidecar's spans (one per proxied inference request, GenAI semantic conventions).</summary>
internal static class SidecarActivitySource
{
    public const string Name = "InferenceSidecar";

    public static ActivitySource Source { get; } = new(Name);
}
