using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.Transforms.Redaction;

/// <summary>A route's <c>Metadata:Redaction</c> (<c>Redact</c>, default; <c>Block</c>; <c>Off</c>), parsed once per route config.</summary>
internal static class RouteRedactionPolicy
{
    public const string Key = "Redaction";

    /// <summary>Route metadata: also run the detectors over what the model sends back (JSON and SSE). Default false.</summary>
    public const string ResponsesKey = "RedactResponses";

    private static readonly ConditionalWeakTable<RouteConfig, StrongBox<RedactionMode>> Parsed = [];

    public static RedactionMode For(RouteConfig route) =>
        Parsed.GetValue(route, static r => new StrongBox<RedactionMode>(TryParse(r.Metadata, out var mode, out _) ? mode : RedactionMode.Redact)).Value;

    public static bool RedactsResponses(RouteConfig route) =>
        route.Metadata is not null && route.Metadata.TryGetValue(ResponsesKey, out var text) && bool.TryParse(text, out var on) && on;

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out RedactionMode mode, out string error)
    {
        mode = RedactionMode.Redact;
        error = string.Empty;
        if (metadata is null)
        {
            return true;
        }

        if (metadata.TryGetValue(ResponsesKey, out var responses) && !bool.TryParse(responses, out _))
        {
            error = $"Metadata:{ResponsesKey} must be true or false.";
            return false;
        }

        if (!metadata.TryGetValue(Key, out var text))
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
