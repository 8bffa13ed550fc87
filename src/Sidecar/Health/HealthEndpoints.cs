using System.Text.Json;
using InferenceSidecar.Hosting;
using InferenceSidecar.Serialization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferenceSidecar.Health;

internal static class HealthEndpoints
{
    public const string ReadyTag = InferencePipeline.ReadyTag;

    public static IServiceCollection AddSidecarHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<ConfigHealthCheck>("config", tags: [ReadyTag])
            .AddCheck<ProviderKeysHealthCheck>("provider_keys", tags: [ReadyTag])
            .AddCheck<ClustersHealthCheck>("clusters", tags: [ReadyTag]);
        return services;
    }

    /// <summary><c>/health/live</c> (process up) and <c>/health/ready</c> (config valid, every store reachable), management port only.</summary>
    public static IEndpointRouteBuilder MapSidecarHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .WithMetadata(ManagementEndpointMetadata.Instance);
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).WithMetadata(ManagementEndpointMetadata.Instance);
        return endpoints;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var components = report.Entries.ToDictionary(
            e => e.Key,
            e => new Dictionary<string, string?> { ["status"] = e.Value.Status.ToString(), ["description"] = e.Value.Description });
        var payload = new Dictionary<string, object?> { ["status"] = report.Status.ToString(), ["components"] = components };
        return JsonSerializer.SerializeAsync(context.Response.Body, payload, SidecarJsonContext.Default.DictionaryStringObject, cancellationToken: context.RequestAborted);
    }
}
