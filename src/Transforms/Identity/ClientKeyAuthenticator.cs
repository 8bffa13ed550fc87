using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using InferenceSidecar.Configuration;
using InferenceSidecar.Keys;

namespace InferenceSidecar.Identity;

/// <summary>
/// Matches a presented client key against <c>Sidecar:ClientKeys</c>. Keys are compared as SHA-256 digests with a
/// fixed-time comparison, every configured key is checked (no early exit), and key references are resolved through
/// the <see cref="SecretResolver"/> so rotated key files take effect without a restart.
/// </summary>
internal sealed class ClientKeyAuthenticator(SecretResolver secrets)
{
    private readonly ConcurrentDictionary<string, byte[]> _digests = new(StringComparer.Ordinal);

    public ClientKeyOptions? Find(string presented, IReadOnlyList<ClientKeyOptions> keys)
    {
        Span<byte> presentedDigest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), presentedDigest);
        ClientKeyOptions? match = null;
        foreach (var key in keys)
        {
            var value = key.Key;
            if (SidecarOptionsValidator.IsReference(value) && !secrets.TryResolve(value, out value))
            {
                continue;
            }

            if (value.Length == 0)
            {
                continue;
            }

            var digest = _digests.GetOrAdd(value, static v => SHA256.HashData(Encoding.UTF8.GetBytes(v)));
            if (CryptographicOperations.FixedTimeEquals(presentedDigest, digest) && match is null)
            {
                match = key;
            }
        }

        if (_digests.Count > 1024)
        {
            _digests.Clear(); // rotated keys accumulate; a clear only costs a re-hash
        }

        return match;
    }

    /// <summary>The client's key from <c>Authorization: Bearer</c>, <c>x-api-key</c> or <c>api-key</c>.</summary>
    public static string? Extract(IHeaderDictionary headers)
    {
        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Length > 7)
        {
            return authorization[7..].Trim();
        }

        foreach (var name in (ReadOnlySpan<string>)["x-api-key", "api-key"])
        {
            var value = headers[name].ToString();
            if (value.Length > 0)
            {
                return value.Trim();
            }
        }

        return null;
    }
}
