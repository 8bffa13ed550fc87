using InferenceSidecar.Configuration;
using InferenceSidecar.Proxy;
using InferenceSidecar.Errors;

namespace InferenceSidecar.Identity;

/// <summary>Resolves the caller for the proxy pipeline; the identity header never goes upstream.</summary>
internal sealed class IdentityMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, IdentityResolver resolver)
{
    public Task InvokeAsync(HttpContext context)
    {
        var options = live.Current;
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var identity = resolver.Resolve(context.Request.Headers, options, context.Connection.RemoteIpAddress);
        if (!identity.Succeeded)
        {
            return ProviderErrors.WriteAsync(context, feature.Provider, identity.Status, identity.Message, identity.Code);
        }

        context.Request.Headers.Remove(options.Identity.UserHeader);
        context.Features.Store(new IdentityFeature { UserId = identity.User, Tier = identity.Tier });
        return next(context);
    }
}
