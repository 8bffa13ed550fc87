namespace InferenceSidecar.ModelPolicy;

/// <summary>What happens to a request whose output cap is above the policy's <c>MaxOutputTokens</c>.</summary>
internal enum OverCapAction
{
    /// <summary>400 in the route's dialect naming the field and the cap.</summary>
    Refuse,

    /// <summary>The cap is lowered to the policy's before forwarding (header <c>x-sidecar-max-tokens-clamped</c>).</summary>
    Clamp,
}

/// <summary>
/// One level of model policy (global, a route, or a tier): which models are allowed, which names are aliases, and the
/// largest output cap a request may ask for. Every field is optional; an unset field leaves the decision to the other levels.
/// </summary>
internal class ModelRule
{
    /// <summary>Model ids allowed (exact, case-sensitive; each also allows its dated snapshots and <c>-latest</c>). Empty: no restriction at this level.</summary>
    public List<string> AllowedModels { get; set; } = [];

    /// <summary>Name the client sends → model forwarded, limited and priced (exact, case-sensitive).</summary>
    public Dictionary<string, string> Aliases { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Largest <c>max_tokens</c> / <c>max_completion_tokens</c> / <c>max_output_tokens</c> a request may ask for; unset or 0: no cap at this level.</summary>
    public int? MaxOutputTokens { get; set; }

    /// <summary>What a larger cap gets: <c>Refuse</c> (400) or <c>Clamp</c>. Unset: the next broader level's, finally <c>Refuse</c>.</summary>
    public OverCapAction? OverCap { get; set; }

    /// <summary>The problems of this level, each naming its key.</summary>
    public IEnumerable<string> Problems(string key)
    {
        if (MaxOutputTokens is < 0 or > 10_000_000)
        {
            yield return $"{key}:MaxOutputTokens must be between 0 and 10000000.";
        }

        for (var i = 0; i < AllowedModels.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(AllowedModels[i]) || AllowedModels[i] != AllowedModels[i].Trim())
            {
                yield return $"{key}:AllowedModels:{i} must be a model id without surrounding spaces.";
            }
        }

        foreach (var (alias, target) in Aliases)
        {
            if (string.IsNullOrWhiteSpace(target) || target != target.Trim() || target.Length > 200)
            {
                yield return $"{key}:Aliases:{alias} must name a model (1-200 characters, no surrounding spaces).";
            }
        }
    }
}

/// <summary>
/// <c>Sidecar:ModelPolicy</c>: the global rule (its own fields), plus rules per route id (<c>Routes</c>) and per tier
/// (<c>Tiers</c>). Live: a change applies to the next request. See docs/policy.md.
/// </summary>
internal sealed class ModelPolicyOptions : ModelRule
{
    /// <summary>The environment variable the AI-proxy requirements name for the global cap (<c>Sidecar:ModelPolicy:MaxOutputTokens</c> wins).</summary>
    public const string MaxTokensVariable = "AI_PROXY_MAX_TOKENS";

    public Dictionary<string, ModelRule> Routes { get; set; } = new(StringComparer.Ordinal);

    public Dictionary<string, ModelRule> Tiers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The <c>max_tokens</c> written into an Anthropic Messages request that names none and has no policy cap (the API
    /// requires the field). 0: leave such requests alone (the provider answers 400).
    /// </summary>
    public int AnthropicDefaultMaxTokens { get; set; } = 4096;

    public IEnumerable<string> Validate()
    {
        const string Section = "Sidecar:ModelPolicy";
        var problems = Problems(Section).ToList();
        if (AnthropicDefaultMaxTokens is < 0 or > 10_000_000)
        {
            problems.Add($"{Section}:AnthropicDefaultMaxTokens must be between 0 and 10000000.");
        }

        foreach (var (route, rule) in Routes)
        {
            problems.AddRange(rule.Problems($"{Section}:Routes:{route}"));
        }

        foreach (var (tier, rule) in Tiers)
        {
            problems.AddRange(rule.Problems($"{Section}:Tiers:{tier}"));
        }

        return problems;
    }
}
