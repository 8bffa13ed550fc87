using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace InferenceSidecar.Tracing;

internal static class TracingServiceCollectionExtensions
{
    /// <summary>
    /// When <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (environment or any config source), exports the sidecar's GenAI
    /// spans plus ASP.NET Core's and HttpClient's over OTLP (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>: <c>grpc</c>, the
    /// default, or <c>http/protobuf</c>); service name from <c>OTEL_SERVICE_NAME</c>. Spans are flushed at shutdown.
    /// Without it no tracer is built, and <c>traceparent</c> still propagates upstream from ASP.NET Core's activity.
    /// </summary>
    public static IServiceCollection AddSidecarTracing(this IServiceCollection services, IConfiguration configuration)
    {
        var endpoint = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(endpoint) || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            return services;
        }

        var http = string.Equals(configuration["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf", StringComparison.OrdinalIgnoreCase);
        services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(configuration["OTEL_SERVICE_NAME"] ?? "inference-sidecar"))
            .AddSource(SidecarActivitySource.Name, "Microsoft.AspNetCore", "System.Net.Http")
            .AddOtlpExporter(options =>
            {
                options.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                options.Endpoint = http && uri.AbsolutePath.TrimEnd('/').Length == 0 ? new Uri(uri, "v1/traces") : uri;
            })
            .Build());
        return services;
    }
}
