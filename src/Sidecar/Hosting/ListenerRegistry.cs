using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InferenceSidecar.Hosting;

/// <summary>
/// Knows which Kestrel listener is the proxy and which is management, so each endpoint answers only on its own port.
/// Kestrel updates <see cref="ListenOptions"/> with the bound port, so port 0 works (the tests use it).
/// When the named endpoints are not configured (e.g. <c>ASPNETCORE_URLS</c>), one listener serves everything.
/// </summary>
internal sealed class ListenerRegistry
{
    public const string ProxyEndpoint = "Proxy";
    public const string ManagementEndpoint = "Management";

    private ListenOptions? _proxy;
    private ListenOptions? _management;

    public bool IsSplit => _proxy is not null && _management is not null;

    public void Register(string name, ListenOptions options)
    {
        if (name.Equals(ProxyEndpoint, StringComparison.OrdinalIgnoreCase))
        {
            _proxy = options;
        }
        else if (name.Equals(ManagementEndpoint, StringComparison.OrdinalIgnoreCase))
        {
            _management = options;
        }
    }

    public IPEndPoint? ProxyAddress => _proxy?.IPEndPoint;

    public IPEndPoint? ManagementAddress => _management?.IPEndPoint;

    public bool IsManagementConnection(HttpContext context) =>
        !IsSplit || context.Connection.LocalPort == _management!.IPEndPoint?.Port;

    public bool IsProxyConnection(HttpContext context) =>
        !IsSplit || context.Connection.LocalPort == _proxy!.IPEndPoint?.Port;
}
