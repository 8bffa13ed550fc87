using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.Transforms.Redaction;

/// <summary>A route's <c>Metadata:Redaction</c> (<c>Redact</c>, default; <c>Block</c>; <c>Off</c>), parsed once per route config.</summary>
internal static class RouteRedactionPolicy
{
    public const string Key = "Redaction";

    private static readonly ConditionalWeakTable<RouteConfig, StrongBox<RedactionMode>> Parsed = [];

    public static RedactionMode For(RouteConfig route) =>
        Parsed.GetValue(route, static r => new StrongBox<RedactionMode>(TryParse(r.Metadata, out var mode, out _) ? mode : RedactionMode.Redact)).Value;

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out RedactionMode mode, out string error)
    {
        mode = RedactionMode.Redact;
        error = string.Empty;
        if (metadata is null || !metadata.TryGetValue(Key, out var text))
        {
            return true;
        }

        if (Enum.TryParse(text, ignoreCase: true, out mode) && Enum.IsDefined(mode))
        {
            return true;
        }

        error = $"Metadata:{Key} must be Redact, Block or Off.";
        return false;
    }
}
