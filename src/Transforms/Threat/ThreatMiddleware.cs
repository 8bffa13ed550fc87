using InferenceSidecar.Configuration;
using InferenceSidecar.Identity;
using InferenceSidecar.Proxy;

namespace InferenceSidecar.Threat;

/// <summary>
/// Outermost step of the proxy pipeline when <c>Sidecar:Threat:Enabled</c>: lets the request run, then records what it
/// signalled. Steps note secrets, prompt-guard matches and malformed bodies (the body is read after identity, so the
/// caller is known) on the <see cref="ThreatFeature"/>; a 401 for a client key that matches none is attributed to
/// <see cref="ThreatScores.KeyId"/>. Awaited before the
/// response starts, so a client that has read the answer finds the score raised on every replica (signals are rare:
/// only bad requests pay); a signal raised after the response started is recorded when the request ends.
/// </summary>
internal sealed class ThreatMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, ThreatScores scores)
{
    private static readonly ThreatSignals[] All = [ThreatSignals.Secret, ThreatSignals.PromptGuard, ThreatSignals.Malformed, ThreatSignals.Unauthorized];

    public Task InvokeAsync(HttpContext context) => live.Current.Threat.Enabled ? ScoredAsync(context) : next(context);

    private async Task ScoredAsync(HttpContext context)
    {
        var threat = new ThreatFeature();
        context.Features.Store(threat);

        // Committed before the answer's first byte leaves (a client that reads a 400 and goes to another replica finds
        // the score raised there), and again at the end for any signal raised after the response started.
        context.Response.OnStarting(() => CommitAsync(context, threat));
        await next(context);
        await CommitAsync(context, threat); // (a response not started yet starts after this)
    }

    /// <summary>Raises the signals of this request not raised yet, and notes them as committed.</summary>
    private async Task CommitAsync(HttpContext context, ThreatFeature threat)
    {
        var signals = threat.Signals;
        var subject = Identity.IdentityFeature.UserOf(context);
        if (subject is null && signals == ThreatSignals.None && context.Response.StatusCode == StatusCodes.Status401Unauthorized
            && live.Current.ClientKeys.Count > 0 && ClientKeyAuthenticator.Extract(context.Request.Headers) is { Length: > 0 } key)
        {
            subject = ThreatScores.KeyId(key);
            signals = ThreatSignals.Unauthorized;
        }

        signals &= ~threat.Committed;
        if (subject is null || signals == ThreatSignals.None)
        {
            return;
        }

        threat.Committed |= signals;
        foreach (var signal in All)
        {
            if ((signals & signal) != 0)
            {
                await scores.RaiseAsync(subject, signal, CancellationToken.None);
            }
        }
    }
}
