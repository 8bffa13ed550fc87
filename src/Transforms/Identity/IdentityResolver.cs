using InferenceSidecar.Configuration;

namespace InferenceSidecar.Identity;

/// <summary>
/// Decides who a request is from (the key for limits, cache scope and usage). With client keys configured, only a
/// valid key counts and the identity header is ignored (no spoofing); otherwise the identity header is trusted. No
/// identity is 401 unless anonymous access is allowed.
/// </summary>
internal sealed class IdentityResolver(ClientKeyAuthenticator authenticator)
{
    public IdentityResult Resolve(IHeaderDictionary headers, SidecarOptions options, System.Net.IPAddress? remote = null)
    {
        string user;
        string? tier = null;
        if (options.ClientKeys.Count > 0)
        {
            var presented = ClientKeyAuthenticator.Extract(headers);
            if (presented is null)
            {
                return IdentityResult.Fail(401, "Missing client key: send it as 'Authorization: Bearer <key>' or 'x-api-key'.", "missing_client_key");
            }

            var match = authenticator.Find(presented, options.ClientKeys);
            if (match is null)
            {
                return IdentityResult.Fail(401, "Invalid client key.", "invalid_client_key");
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
                    return IdentityResult.Fail(401, $"Missing identity: send the '{options.Identity.UserHeader}' header.", "missing_identity");
                }

                // Anonymous: the tier is the one configured for AnonymousUser, whatever the partition.
                return new IdentityResult(
                    AnonymousPartition.UserFor(options.Identity, headers, remote),
                    options.Users.TryGetValue(options.Identity.AnonymousUser, out var anonymous) ? anonymous.Tier : "default",
                    0,
                    string.Empty,
                    string.Empty);
            }
            else if (!SidecarOptionsValidator.UserIdPattern().IsMatch(header))
            {
                return IdentityResult.Fail(400, $"Header '{options.Identity.UserHeader}' must be 1-128 of A-Z a-z 0-9 . _ @ : -.", "invalid_identity");
            }

            user = header;
        }

        return new IdentityResult(user, tier ?? (options.Users.TryGetValue(user, out var settings) ? settings.Tier : "default"), 0, string.Empty, string.Empty);
    }
}
