using InferenceSidecar.Configuration;
using InferenceSidecar.Proxy;
using InferenceSidecar.Threat;
using InferenceSidecar.Errors;
using InferenceSidecar.PromptGuard;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.PromptGuard;

/// <summary>
/// Kong-style prompt guard: on a route whose metadata names a policy (<c>PromptGuard</c>), the user, system and
/// developer text of a JSON request (see <see cref="PromptText"/>) is matched against the policy's deny rules (any
/// match refuses) and allow rules (when present, every user message must match one). In <c>Block</c> mode a refusal
/// is 400 in the route's dialect naming the rule (<c>prompt_guard_blocked</c>); in <c>Count</c> mode it is only
/// counted. Either way it is a threat signal. Runs after identity and redaction, before limits: a refused request
/// spends no budget. A rule that runs past <c>MatchTimeout</c> answers 503 (<c>prompt_guard_timeout</c>): the request is neither forwarded unchecked nor blamed on the caller. A route naming a policy that does not
/// exist answers 503 (<c>prompt_guard_misconfigured</c>) rather than forwarding unchecked.
/// </summary>
internal sealed partial class PromptGuardMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, ThreatMetrics metrics, ILogger<PromptGuardMiddleware> logger)
{
    private Compiled? _compiled;

    public Task InvokeAsync(HttpContext context)
    {
        var route = RoutePromptGuardPolicy.For(context.GetProxyFeature().Route.Config);
        var parsed = context.Features.Lookup<ParsedRequest>();
        if (route.Policy is null || parsed is null)
        {
            return next(context);
        }

        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        if (!Current().Policies.TryGetValue(route.Policy, out var policy))
        {
            LogMissingPolicy(logger, feature.RouteId);
            context.Response.Headers.RetryAfter = "5";
            return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status503ServiceUnavailable,
                "This route's prompt guard is not configured; the request was not forwarded.", "prompt_guard_misconfigured");
        }

        var rule = Check(PromptText.Extract(parsed.Body.Span, policy.AllRoles), policy);
        if (rule is null)
        {
            return next(context);
        }

        if (rule == TimedOut)
        {
            // Non-backtracking matching is linear in the text, so a timeout means a starved CPU, not a hostile
            // pattern: neither forward unchecked nor blame the caller.
            metrics.GuardMatch(feature.RouteId, TimedOut, "timeout");
            context.Response.Headers.RetryAfter = "1";
            return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status503ServiceUnavailable,
                "The prompt guard could not check this request in time; retry shortly.", "prompt_guard_timeout");
        }

        var action = route.Mode == PromptGuardMode.Block ? "block" : "count";
        metrics.GuardMatch(feature.RouteId, rule, action);
        context.RaiseThreat(ThreatSignals.PromptGuard);
        if (route.Mode == PromptGuardMode.Count)
        {
            return next(context);
        }

        var message = rule == AllowListRule
            ? "Request blocked by the prompt guard: a message matches none of the allowed patterns (rule 'allow-list')."
            : $"Request blocked by the prompt guard: it matches rule '{rule}'.";
        return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status400BadRequest, message, "prompt_guard_blocked");
    }

    /// <summary>The name reported when an allow list refuses.</summary>
    public const string AllowListRule = "allow-list";

    /// <summary>What <see cref="Check"/> returns when a rule ran past <c>MatchTimeout</c>.</summary>
    public const string TimedOut = "timeout";

    /// <summary>The first rule that refuses this text, <see cref="TimedOut"/>, or null.</summary>
    internal static string? Check(PromptText text, CompiledPolicy policy)
    {
        var combined = text.Combined;
        foreach (var rule in policy.Deny)
        {
            if (MatchesAnywhere(rule, combined) is { } hit)
            {
                return hit ? rule.Name : TimedOut;
            }
        }

        if (policy.Allow.Length > 0)
        {
            foreach (var message in text.UserMessages)
            {
                var allowed = false;
                foreach (var rule in policy.Allow)
                {
                    if (Matches(rule, message) is { } hit)
                    {
                        if (!hit)
                        {
                            return TimedOut;
                        }

                        allowed = true;
                        break;
                    }
                }

                if (!allowed)
                {
                    return AllowListRule;
                }
            }
        }

        return null;
    }

    /// <summary>Windows a deny rule scans (longer text is scanned in overlapping windows) and their overlap.</summary>
    internal const int ScanWindow = 65_536, ScanOverlap = 8_192;

    /// <summary>
    /// A deny rule over text of any length: in windows of <see cref="ScanWindow"/> characters overlapping by
    /// <see cref="ScanOverlap"/>. The non-backtracking engine (.NET 10) stops finding matches in inputs of about 100,000
    /// characters and more (a match after 100 KB of "a a a …" was reported as none; measured), which let a padded
    /// prompt past every rule. A deny match longer than the overlap could be missed; the starter rules are bounded far
    /// below it. Allow rules keep whole-message semantics (an engine miss there refuses: it fails closed).
    /// </summary>
    private static bool? MatchesAnywhere(CompiledRule rule, string text)
    {
        if (text.Length <= ScanWindow)
        {
            return Matches(rule, text);
        }

        for (var start = 0; ; start += ScanWindow - ScanOverlap)
        {
            var length = Math.Min(ScanWindow, text.Length - start);
            try
            {
                if (rule.Regex.IsMatch(text.AsSpan(start, length)))
                {
                    return true;
                }
            }
            catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
            {
                return false;
            }

            if (start + length >= text.Length)
            {
                return null;
            }
        }
    }

    /// <summary>True: matched; null: no match; false: timed out.</summary>
    private static bool? Matches(CompiledRule rule, string text)
    {
        try
        {
            return rule.Regex.IsMatch(text) ? true : null;
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>The compiled rules for the live options, rebuilt only when the PromptGuard section changes.</summary>
    private PromptGuardRules Current()
    {
        var options = live.Current.PromptGuard;
        if (_compiled is { } compiled && ReferenceEquals(options, compiled.From))
        {
            return compiled.Rules;
        }

        compiled = new Compiled(options, PromptGuardRules.Compile(options));
        _compiled = compiled;
        return compiled.Rules;
    }

    private sealed record Compiled(PromptGuardOptions From, PromptGuardRules Rules);

    [LoggerMessage(EventId = 1710, Level = LogLevel.Error, Message = "Route {Route} names a prompt-guard policy that Sidecar:PromptGuard:Policies does not define; its requests are refused with 503.")]
    private static partial void LogMissingPolicy(ILogger logger, string route);
}
