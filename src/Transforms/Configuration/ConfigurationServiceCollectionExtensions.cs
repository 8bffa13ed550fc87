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
        services.PostConfigureAll<SidecarOptions>(options => ReadLegacyPricing(section.GetSection("Pricing"), options.Pricing));
        services.AddSingleton<IValidateOptions<SidecarOptions>, SidecarOptionsValidator>();
        services.AddSingleton<LiveOptions<SidecarOptions>>();
        return services;
    }

    /// <summary>
    /// The older <c>Sidecar:Pricing</c> shape, models directly under it (<c>Sidecar:Pricing:gpt-4o:InputPerMillion</c>):
    /// every child that is not one of <see cref="PricingOptions"/>'s own keys is a model (<c>Models</c> wins on a clash).
    /// </summary>
    private static void ReadLegacyPricing(IConfigurationSection pricing, PricingOptions options)
    {
        foreach (var child in pricing.GetChildren())
        {
            if (IsOwnKey(child.Key) || options.Models.ContainsKey(child.Key))
            {
                continue;
            }

            var price = new ModelPrice();
            child.Bind(price);
            options.Models[child.Key] = price;
        }

        static bool IsOwnKey(string key) =>
            key.Equals(nameof(PricingOptions.Models), StringComparison.OrdinalIgnoreCase)
            || key.Equals(nameof(PricingOptions.Unpriced), StringComparison.OrdinalIgnoreCase)
            || key.Equals(nameof(PricingOptions.DefaultPrice), StringComparison.OrdinalIgnoreCase);
    }
}
