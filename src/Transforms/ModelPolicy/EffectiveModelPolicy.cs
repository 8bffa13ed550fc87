using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using InferenceSidecar.RateLimiting;

namespace InferenceSidecar.ModelPolicy;

/// <summary>
/// The model policy that applies to one (route, tier): the tier's rule, the route's and the global one combined.
/// An alias is looked up tier first, then route, then global (the most specific wins). A model must be allowed by every
/// level that lists models (the lists intersect). The output cap is the smallest set cap; the over-cap action is the
/// most specific one set. Built once per options instance and (route, tier), then shared.
/// </summary>
internal sealed class EffectiveModelPolicy
{
    private static readonly ConditionalWeakTable<ModelPolicyOptions, ConcurrentDictionary<(string Route, string Tier), EffectiveModelPolicy>> Cache = new();

    private readonly FrozenDictionary<string, string>[] _aliases;
    private readonly FrozenSet<string>[] _allowed;

    private EffectiveModelPolicy(ModelRule?[] levels)
    {
        _aliases = levels.Where(l => l is { Aliases.Count: > 0 }).Select(l => l!.Aliases.ToFrozenDictionary(StringComparer.Ordinal)).ToArray();
        _allowed = levels.Where(l => l is { AllowedModels.Count: > 0 }).Select(l => l!.AllowedModels.ToFrozenSet(StringComparer.Ordinal)).ToArray();
        var caps = levels.Select(l => l?.MaxOutputTokens ?? 0).Where(c => c > 0).ToArray();
        MaxOutputTokens = caps.Length == 0 ? 0 : caps.Min();
        OverCap = levels.Select(l => l?.OverCap).FirstOrDefault(a => a is not null) ?? OverCapAction.Refuse;
    }

    /// <summary>The smallest cap of the levels; 0 when none sets one.</summary>
    public int MaxOutputTokens { get; }

    public OverCapAction OverCap { get; }

    /// <summary>Some level lists the allowed models.</summary>
    public bool HasAllowList => _allowed.Length > 0;

    /// <summary>Nothing to check or rewrite (the fast path: no policy configured).</summary>
    public bool IsEmpty => _aliases.Length == 0 && _allowed.Length == 0 && MaxOutputTokens == 0;

    public static EffectiveModelPolicy For(ModelPolicyOptions options, string route, string tier)
    {
        var byKey = Cache.GetValue(options, static _ => new ConcurrentDictionary<(string, string), EffectiveModelPolicy>());
        if (byKey.TryGetValue((route, tier), out var policy))
        {
            return policy;
        }

        if (byKey.Count > 10_000)
        {
            byKey.Clear(); // route ids and tiers come from config: only a pathological config gets here
        }

        return byKey.GetOrAdd((route, tier), static (key, o) => new EffectiveModelPolicy(
            [o.Tiers.GetValueOrDefault(key.Tier), o.Routes.GetValueOrDefault(key.Route), o]), options);
    }

    /// <summary>The model an alias stands for (most specific level first).</summary>
    public bool TryAlias(string model, out string target)
    {
        foreach (var aliases in _aliases)
        {
            if (aliases.TryGetValue(model, out target!))
            {
                return true;
            }
        }

        target = model;
        return false;
    }

    /// <summary>
    /// Whether every allow-list admits <paramref name="model"/>: the exact id (ordinal: case and spaces matter), or an
    /// id it is a dated snapshot or <c>-latest</c> alias of (<c>gpt-4o-2024-08-06</c> is allowed by <c>gpt-4o</c>;
    /// <c>gpt-4o-mini</c> is not).
    /// </summary>
    public bool Allows(string model)
    {
        foreach (var allowed in _allowed)
        {
            if (!Admits(allowed, model))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Admits(FrozenSet<string> allowed, string model)
    {
        for (var id = model; id is not null; id = PricingCatalog.Family(id))
        {
            if (allowed.Contains(id))
            {
                return true;
            }
        }

        return false;
    }
}
