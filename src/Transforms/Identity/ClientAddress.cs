using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace InferenceSidecar.Identity;

/// <summary>
/// <c>Sidecar:ForwardedHeaders</c>: ASP.NET Core's <c>ForwardedHeaders</c> middleware for <c>X-Forwarded-For</c> only,
/// trusting exactly the configured proxies and networks. With none configured (the default) the middleware is not
/// installed at all, so no client can set its own address (ASP.NET Core's own default would trust loopback, and with
/// both lists cleared it would trust everyone). Read at start.
/// </summary>
internal static class ClientAddress
{
    public const string Section = "Sidecar:ForwardedHeaders";

    /// <summary>The options, or null when no proxy is trusted. Throws naming the key when an entry is not an address or a CIDR network.</summary>
    public static ForwardedHeadersOptions? Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var proxies = section.GetSection("KnownProxies").Get<string[]>() ?? [];
        var networks = section.GetSection("KnownNetworks").Get<string[]>() ?? [];
        if (proxies.Length == 0 && networks.Length == 0)
        {
            return null;
        }

        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor,
            ForwardLimit = section.GetValue<int?>("ForwardLimit") ?? 1,
            RequireHeaderSymmetry = false,
        };
        if (options.ForwardLimit is < 1 or > 10)
        {
            throw new InvalidOperationException($"{Section}:ForwardLimit must be between 1 and 10.");
        }

        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        for (var i = 0; i < proxies.Length; i++)
        {
            if (!IPAddress.TryParse(proxies[i]?.Trim(), out var address))
            {
                throw new InvalidOperationException($"{Section}:KnownProxies:{i} is not an IP address.");
            }

            options.KnownProxies.Add(address);
        }

        for (var i = 0; i < networks.Length; i++)
        {
            if (!System.Net.IPNetwork.TryParse(networks[i]?.Trim(), out var network))
            {
                throw new InvalidOperationException($"{Section}:KnownNetworks:{i} is not a CIDR network such as 10.0.0.0/8.");
            }

            options.KnownIPNetworks.Add(network);
        }

        return options;
    }

    /// <summary>First in the pipeline, so the request log, the route rate-limiter policies and identity all see the client's address.</summary>
    public static IApplicationBuilder UseSidecarForwardedHeaders(this IApplicationBuilder app, IConfiguration configuration) =>
        Read(configuration) is { } options ? app.UseForwardedHeaders(options) : app;
}
