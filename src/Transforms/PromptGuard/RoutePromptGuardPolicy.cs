using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.PromptGuard;

/// <summary>What a route does with a prompt-guard match: refuse with 400 in its dialect, or only count it.</summary>
internal enum PromptGuardMode
{
    Block,
    Count,
}

/// <summary>
/// A route's prompt guard from its YARP route <c>Metadata</c>: <c>PromptGuard</c> names a policy under
/// <c>Sidecar:PromptGuard:Policies</c> (absent: no guard), <c>PromptGuardMode</c> is <c>Block</c> (default) or
/// <c>Count</c>. Parsed once per route config object.
/// </summary>
internal sealed record RoutePromptGuardPolicy(string? Policy, PromptGuardMode Mode)
{
    public const string Key = "PromptGuard";

    public const string ModeKey = "PromptGuardMode";

    public static readonly RoutePromptGuardPolicy None = new(null, PromptGuardMode.Block);

    private static readonly ConditionalWeakTable<RouteConfig, RoutePromptGuardPolicy> Parsed = [];

    public static RoutePromptGuardPolicy For(RouteConfig route) =>
        Parsed.GetValue(route, static r => TryParse(r.Metadata, out var policy, out _) ? policy : None);

    public static bool TryParse(IReadOnlyDictionary<string, string>? metadata, out RoutePromptGuardPolicy policy, out string error)
    {
        policy = None;
        error = string.Empty;
        if (metadata is null)
        {
            return true;
        }

        var mode = PromptGuardMode.Block;
        if (metadata.TryGetValue(ModeKey, out var modeText) && !(Enum.TryParse(modeText, ignoreCase: true, out mode) && Enum.IsDefined(mode)))
        {
            error = $"Metadata:{ModeKey} must be Block or Count.";
            return false;
        }

        var name = metadata.TryGetValue(Key, out var text) && !string.IsNullOrWhiteSpace(text) ? text.Trim() : null;
        policy = new RoutePromptGuardPolicy(name, mode);
        return true;
    }
}
