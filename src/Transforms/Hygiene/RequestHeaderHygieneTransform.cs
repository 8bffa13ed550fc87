using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Transforms.Hygiene;

/// <summary>
/// Removes client credentials and the sidecar's own headers from the outgoing request. Runs before the key
/// transform, so the injected provider key is the only credential that leaves.
/// </summary>
internal sealed class RequestHeaderHygieneTransform(string identityHeader) : RequestTransform
{
    public string IdentityHeader { get; } = identityHeader;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var headers = context.ProxyRequest.Headers;
        foreach (var name in SensitiveHeaders.ClientCredentials)
        {
            headers.Remove(name);
        }

        headers.Remove(IdentityHeader);

        // The sidecar's own headers: collect first, the collection cannot change while enumerated.
        List<string>? own = null;
        foreach (var header in headers)
        {
            if (header.Key.StartsWith(SensitiveHeaders.SidecarPrefix, StringComparison.OrdinalIgnoreCase))
            {
                (own ??= []).Add(header.Key);
            }
        }

        if (own is not null)
        {
            foreach (var name in own)
            {
                headers.Remove(name);
            }
        }

        return ValueTask.CompletedTask;
    }
}
