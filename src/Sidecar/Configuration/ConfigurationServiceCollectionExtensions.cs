using Microsoft.Extensions.Options;

namespace InferenceSidecar.Configuration;

internal static class ConfigurationServiceCollectionExtensions
{
    /// <summary>Binds and validates <c>Sidecar</c> (on start), and registers its live, last-good view.</summary>
    public static IServiceCollection AddSidecarConfiguration(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(SidecarOptions.Section);
        services.AddOptions<SidecarOptions>().Bind(section).ValidateOnStart();
        services.AddOptions<SidecarOptions>(LiveOptions<SidecarOptions>.Name).Bind(section);
        services.AddSingleton<IValidateOptions<SidecarOptions>, SidecarOptionsValidator>();
        services.AddSingleton<LiveOptions<SidecarOptions>>();
        return services;
    }
}
