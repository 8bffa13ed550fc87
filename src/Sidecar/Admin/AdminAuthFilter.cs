using System.Security.Cryptography;
using System.Text;
using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Keys;
using InferenceSidecar.Providers;

namespace InferenceSidecar.Admin;

/// <summary>
/// Guards every <c>/admin</c> endpoint: with no token configured (<c>Sidecar:Admin:Token</c>, by default
/// <c>env:SIDECAR_ADMIN_TOKEN</c>, resolving to nothing) they do not exist and answer 404; otherwise
/// <c>Authorization: Bearer &lt;token&gt;</c> is required and compared in constant time (SHA-256 of both, then
/// <see cref="CryptographicOperations.FixedTimeEquals"/>), else 401. The token is re-read like any secret, so a rotated
/// file takes effect within a second.
/// </summary>
internal sealed class AdminAuthFilter(LiveOptions<SidecarOptions> live, SecretResolver secrets) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!secrets.TryResolve(live.Current.Admin.Token, out var token, warnIfMissing: false) || token.Length == 0)
        {
            await NotFound.WriteAsync(http);
            return Results.Empty;
        }

        if (!Matches(http.Request.Headers.Authorization.ToString(), token))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"sidecar-admin\"";
            await ProviderErrors.WriteAsync(http, ProviderKind.OpenAI, StatusCodes.Status401Unauthorized, "The admin API needs 'Authorization: Bearer <admin token>'.", "invalid_admin_token");
            return Results.Empty;
        }

        return await next(context);
    }

    private static bool Matches(string authorization, string token)
    {
        const string Prefix = "Bearer ";
        var presented = authorization.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? authorization[Prefix.Length..].Trim() : string.Empty;
        Span<byte> a = stackalloc byte[32];
        Span<byte> b = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), a);
        SHA256.HashData(Encoding.UTF8.GetBytes(token), b);
        return CryptographicOperations.FixedTimeEquals(a, b) & presented.Length > 0;
    }
}
