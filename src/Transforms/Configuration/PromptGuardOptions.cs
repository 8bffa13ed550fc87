namespace InferenceSidecar.Configuration;

/// <summary>
/// <c>Sidecar:PromptGuard</c>: named guard policies; a route uses one through its metadata <c>PromptGuard</c> (and
/// <c>PromptGuardMode</c>: <c>Block</c>, default, or <c>Count</c>). See docs/threat.md.
/// </summary>
internal sealed class PromptGuardOptions
{
    /// <summary>Longest time one rule may spend on one request's text; past it the request is answered 503 (not forwarded).</summary>
    public TimeSpan MatchTimeout { get; set; } = TimeSpan.FromSeconds(1);

    public Dictionary<string, PromptGuardPolicyOptions> Policies { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One guard policy: deny rules (any match refuses) and allow rules (when any is set, the text must match one).</summary>
internal sealed class PromptGuardPolicyOptions
{
    /// <summary>Adds the built-in list of well-known injection phrasings (rule names <c>starter:…</c>) to <see cref="Deny"/>.</summary>
    public bool IncludeStarterList { get; set; }

    public List<PromptGuardRuleOptions> Deny { get; set; } = [];

    public List<PromptGuardRuleOptions> Allow { get; set; } = [];

    /// <summary>Also check assistant and tool messages (by default only user, system and developer text is checked).</summary>
    public bool AllRoles { get; set; }
}

/// <summary>A named pattern (.NET regex, run with <c>NonBacktracking</c>, case-insensitive unless <see cref="CaseSensitive"/>).</summary>
internal sealed class PromptGuardRuleOptions
{
    public string Name { get; set; } = string.Empty;

    public string Pattern { get; set; } = string.Empty;

    public bool CaseSensitive { get; set; }
}
