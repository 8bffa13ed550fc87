namespace InferenceSidecar.Security;

internal static class CorsServiceCollectionExtensions
{
    /// <summary>
    /// Browser access (gateway mode) is off unless configured: each <c>Sidecar:Cors:&lt;policy&gt;:Origins</c> list becomes a
    /// named CORS policy, which a route opts into with YARP's own <c>CorsPolicy: "&lt;policy&gt;"</c>. Read at start.
    /// </summary>
    public static IServiceCollection AddSidecarCors(this IServiceCollection services, IConfiguration configuration)
    {
        // ASP.NET Core registers the policy provider as transient, and the CORS middleware takes it as an Invoke
        // parameter: one provider allocated per request, CORS or not. It holds nothing but the options: one will do.
        services.AddSingleton<Microsoft.AspNetCore.Cors.Infrastructure.ICorsPolicyProvider, Microsoft.AspNetCore.Cors.Infrastructure.DefaultCorsPolicyProvider>();
        services.AddCors(cors =>
        {
            foreach (var policy in configuration.GetSection("Sidecar:Cors").GetChildren())
            {
                var origins = policy.GetSection("Origins").Get<string[]>() ?? [];
                cors.AddPolicy(policy.Key, builder => builder
                    .WithOrigins(origins)
                    .AllowAnyHeader()
                    .AllowAnyMethod()
                    .WithExposedHeaders("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                        "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", "X-Cache", "X-Sidecar-Upstream", "Retry-After"));
            }
        });
        return services;
    }
}
