using InferenceSidecar.Errors;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Hosting;

/// <summary>
/// After routing: management endpoints answer only on the management listener, proxy routes only on the proxy
/// listener; anything else is a 404 (in the provider dialect on the proxy port).
/// </summary>
internal sealed class ListenerFilterMiddleware(RequestDelegate next, ListenerRegistry listeners)
{
    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is not null && listeners.IsSplit)
        {
            var management = endpoint.Metadata.GetMetadata<ManagementEndpointMetadata>() is not null;
            var proxy = endpoint.Metadata.GetMetadata<RouteModel>() is not null || endpoint.Metadata.GetMetadata<ProxyEndpointMetadata>() is not null;
            if ((management && !listeners.IsManagementConnection(context)) || (proxy && !listeners.IsProxyConnection(context)))
            {
                return NotFound.WriteAsync(context);
            }
        }

        return next(context);
    }
}
