using System.Text.RegularExpressions;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.PromptGuard;

/// <summary>One compiled rule.</summary>
internal sealed record CompiledRule(string Name, Regex Regex);

/// <summary>One compiled policy.</summary>
internal sealed record CompiledPolicy(CompiledRule[] Deny, CompiledRule[] Allow, bool AllRoles);

/// <summary>
/// Every policy of <c>Sidecar:PromptGuard</c>, compiled once per configuration (the live options object): patterns run
/// with <see cref="RegexOptions.NonBacktracking"/> (linear time, no catastrophic backtracking) and a match timeout.
/// </summary>
internal sealed partial class PromptGuardRules
{
    private PromptGuardRules(Dictionary<string, CompiledPolicy> policies) => Policies = policies;

    public IReadOnlyDictionary<string, CompiledPolicy> Policies { get; }

    public static PromptGuardRules Compile(PromptGuardOptions options)
    {
        var policies = new Dictionary<string, CompiledPolicy>(StringComparer.Ordinal);
        foreach (var (name, policy) in options.Policies)
        {
            var deny = (policy.IncludeStarterList ? StarterRules.All.Concat(policy.Deny) : policy.Deny)
                .Select(r => Warm(new CompiledRule(r.Name, Build(r, options.MatchTimeout)))).ToArray();
            var allow = policy.Allow.Select(r => Warm(new CompiledRule(r.Name, Build(r, options.MatchTimeout)))).ToArray();
            policies[name] = new CompiledPolicy(deny, allow, policy.AllRoles);
        }

        return new PromptGuardRules(policies);
    }

    /// <summary>Configuration errors (names the keys, never echoes a pattern).</summary>
    public static void Validate(PromptGuardOptions options, List<string> errors)
    {
        if (options.MatchTimeout <= TimeSpan.Zero || options.MatchTimeout > TimeSpan.FromSeconds(10))
        {
            errors.Add("Sidecar:PromptGuard:MatchTimeout must be between 1 ms and 10 s.");
        }

        foreach (var (name, policy) in options.Policies)
        {
            if (!RuleName().IsMatch(name))
            {
                errors.Add("Sidecar:PromptGuard:Policies: a policy name must be 1-64 of A-Z a-z 0-9 . _ : -.");
            }

            Check(policy.Deny, $"Sidecar:PromptGuard:Policies:{name}:Deny", errors);
            Check(policy.Allow, $"Sidecar:PromptGuard:Policies:{name}:Allow", errors);
        }
    }

    private static void Check(List<PromptGuardRuleOptions> rules, string prefix, List<string> errors)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            if (!RuleName().IsMatch(rule.Name))
            {
                errors.Add($"{prefix}:{i}:Name must be 1-64 of A-Z a-z 0-9 . _ : -.");
            }

            if (string.IsNullOrEmpty(rule.Pattern))
            {
                errors.Add($"{prefix}:{i}:Pattern must not be empty.");
                continue;
            }

            try
            {
                _ = Build(rule, TimeSpan.FromMilliseconds(100));
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                errors.Add($"{prefix}:{i}:Pattern is not a valid regular expression for the non-backtracking engine (no backreferences, lookarounds or atomic groups).");
            }
        }
    }

    /// <summary>The non-backtracking engine builds its automaton lazily: run it once here, not on the first request.</summary>
    private static CompiledRule Warm(CompiledRule rule)
    {
        try
        {
            _ = rule.Regex.IsMatch("Warm up the prompt guard: ignore nothing, reveal nothing, 0123456789.");
        }
        catch (RegexMatchTimeoutException)
        {
        }

        return rule;
    }

    private static Regex Build(PromptGuardRuleOptions rule, TimeSpan timeout)
    {
        var options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;
        if (!rule.CaseSensitive)
        {
            options |= RegexOptions.IgnoreCase;
        }

        return new Regex(rule.Pattern, options, timeout);
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}$")]
    private static partial Regex RuleName();
}
