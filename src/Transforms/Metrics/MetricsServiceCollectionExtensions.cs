namespace InferenceSidecar.Metrics;

internal static class MetricsServiceCollectionExtensions
{
    public static IServiceCollection AddSidecarMetrics(this IServiceCollection services)
    {
        services.AddSingleton<SidecarMetrics>();
        services.AddSingleton<RuntimeMetrics>();
        services.AddSingleton<ModelLabels>();
        return services;
    }
}
