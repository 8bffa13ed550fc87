using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.Redaction;

/// <summary>
/// A route's redaction settings from its YARP route <c>Metadata</c>: <c>Redaction</c> (<c>Redact</c>, default;
/// <c>Block</c>; <c>Off</c>) and <c>RedactResponses</c> (default false). Parsed once per route config object.
/// </summary>
internal sealed record RouteRedactionPolicy(RedactionMode Mode, bool Responses)
{
    public const string Key = "Redaction";

    /// <summary>Route metadata: also run the detectors over what the model sends back (JSON and SSE).</summary>
    public const string ResponsesKey = "RedactResponses";

    public static readonly RouteRedactionPolicy Default = new(RedactionMode.Redact, false);

    private static readonly ConditionalWeakTable<RouteConfig, RouteRedactionPolicy> Parsed = [];

    public static RouteRedactionPolicy For(RouteConfig route) =>
        Parsed.GetValue(route, static r => TryParse(r.Metadata, out var policy, out _) ? policy : Default);

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out RouteRedactionPolicy policy, out string error)
    {
        policy = Default;
        error = string.Empty;
        if (metadata is null)
        {
            return true;
        }

        var responses = false;
        if (metadata.TryGetValue(ResponsesKey, out var text) && !bool.TryParse(text, out responses))
        {
            error = $"Metadata:{ResponsesKey} must be true or false.";
            return false;
        }

        var mode = RedactionMode.Redact;
        if (metadata.TryGetValue(Key, out var modeText) && !(Enum.TryParse(modeText, ignoreCase: true, out mode) && Enum.IsDefined(mode)))
        {
            error = $"Metadata:{Key} must be Redact, Block or Off.";
            return false;
        }

        policy = new RouteRedactionPolicy(mode, responses);
        return true;
    }
}
