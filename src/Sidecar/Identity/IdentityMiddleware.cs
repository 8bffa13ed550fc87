using InferenceSidecar.Configuration;
using InferenceSidecar.Transforms;
using InferenceSidecar.Transforms.Errors;

namespace InferenceSidecar.Identity;

/// <summary>
/// Decides who a proxied request is from (the key for limits, cache scope and usage). With client keys configured,
/// only a valid key counts and <c>X-User-Id</c> is ignored (no spoofing); otherwise the identity header is trusted.
/// No identity is 401 unless anonymous access is allowed. The identity header never goes upstream.
/// </summary>
internal sealed class IdentityMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, ClientKeyAuthenticator authenticator)
{
    public Task InvokeAsync(HttpContext context)
    {
        var options = live.Current;
        var feature = context.Features.Get<SidecarRequestFeature>()!;
        var headers = context.Request.Headers;
        string user;
        string? tier = null;

        if (options.ClientKeys.Count > 0)
        {
            var presented = ClientKeyAuthenticator.Extract(headers);
            if (presented is null)
            {
                return Reject(context, feature, 401, "Missing client key: send it as 'Authorization: Bearer <key>' or 'x-api-key'.", "missing_client_key");
            }

            var match = authenticator.Find(presented, options.ClientKeys);
            if (match is null)
            {
                return Reject(context, feature, 401, "Invalid client key.", "invalid_client_key");
            }

            user = match.UserId;
            tier = string.IsNullOrWhiteSpace(match.Tier) ? null : match.Tier;
        }
        else
        {
            var header = headers[options.Identity.UserHeader].ToString().Trim();
            if (header.Length == 0)
            {
                if (!options.Identity.AllowAnonymous)
                {
                    return Reject(context, feature, 401, $"Missing identity: send the '{options.Identity.UserHeader}' header.", "missing_identity");
                }

                header = options.Identity.AnonymousUser;
            }
            else if (!SidecarOptionsValidator.UserIdPattern().IsMatch(header))
            {
                return Reject(context, feature, 400, $"Header '{options.Identity.UserHeader}' must be 1-128 of A-Z a-z 0-9 . _ @ : -.", "invalid_identity");
            }

            user = header;
        }

        headers.Remove(options.Identity.UserHeader);
        feature.UserId = user;
        feature.Tier = tier ?? (options.Users.TryGetValue(user, out var settings) ? settings.Tier : "default");
        return next(context);
    }

    private static Task Reject(HttpContext context, SidecarRequestFeature feature, int status, string message, string code) =>
        ProviderErrors.WriteAsync(context, feature.Provider, status, message, code);
}
