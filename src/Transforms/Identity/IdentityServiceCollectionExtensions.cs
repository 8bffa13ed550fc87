namespace InferenceSidecar.Identity;

internal static class IdentityServiceCollectionExtensions
{
    public static IServiceCollection AddSidecarIdentity(this IServiceCollection services) =>
        services.AddSingleton<ClientKeyAuthenticator>().AddSingleton<IdentityResolver>();
}
