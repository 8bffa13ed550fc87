using InferenceSidecar.Admin;
using InferenceSidecar.Analytics;
using InferenceSidecar.Caching;
using InferenceSidecar.Dashboard;
using InferenceSidecar.Configuration;
using InferenceSidecar.Demo;
using InferenceSidecar.Errors;
using InferenceSidecar.Health;
using InferenceSidecar.Identity;
using InferenceSidecar.Logging;
using InferenceSidecar.Metrics;
using InferenceSidecar.Operations;
using InferenceSidecar.Proxy;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Security;
using InferenceSidecar.Threat;
using InferenceSidecar.Tracing;
using Microsoft.Extensions.Configuration.Json;
using Serilog;

namespace InferenceSidecar.Hosting;

/// <summary>Builds the sidecar: services, Kestrel listeners and the request pipeline. <c>Program.cs</c> and the tests both use it.</summary>
internal static class SidecarApplication
{
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null, Action<LoggerConfiguration>? logging = null)
    {
        // On a 2-core pod the thread pool starts with 2 workers and grows slowly. A cold-start burst (every request JITs
        // the pipeline) then queues Redis continuations behind hundreds of work items long enough to look like an outage:
        // the 200-request cold-burst replica test (ReplicaAccuracyTests) failed 3 runs of 3 without this line. Start
        // with a few more workers.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), Math.Max(io, 16));

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (builder.Environment.IsDevelopment() && SourceConfigDirectory is { } source)
        {
            WatchConfigFilesIn(builder, source);
        }

        AddConfigFile(builder.Configuration);
        ModelPolicy.ModelPolicyEnvironment.AddMaxTokensVariable(builder.Configuration, Environment.GetEnvironmentVariable(ModelPolicy.ModelPolicyOptions.MaxTokensVariable));
        configure?.Invoke(builder);
        builder.AddSidecarLogging(logging);
        builder.AddSidecarListeners();

        // The inference pipeline is the library (src/Transforms, InferencePipeline); this host adds listeners, config
        // files and reload, logging, tracing export, /metrics, health, the admin and operations APIs and the demo.
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddInferencePipeline(builder.Configuration)
            .AddSidecarDemo();
        builder.Services.AddSidecarTracing(builder.Configuration);
        builder.Services.AddSidecarHealth();
        builder.Services.AddSidecarCors(builder.Configuration);
        builder.Services.AddSidecarOperations(builder.Configuration);

        var app = builder.Build();
        app.UseSidecarForwardedHeaders(app.Configuration);
        app.UseMiddleware<RequestLogMiddleware>();
        app.UseMiddleware<UnhandledExceptionMiddleware>();
        app.UseMiddleware<ResponseHeadersMiddleware>();
        app.UseMiddleware<NoSniffMiddleware>();
        app.UseRouting();
        app.UseMiddleware<ListenerFilterMiddleware>();
        app.UseCors();
        app.UseRateLimiter(); // the pipeline's concurrency cap and the routes' RateLimiterPolicy
        app.MapSidecarHealth();
        app.MapSidecarDemo();
        app.MapSidecarLimits();
        app.MapSidecarMetrics();
        app.MapSidecarAdmin();
        app.MapSidecarThreat();
        app.MapSidecarOperations();
        app.MapSidecarDashboard();
        app.MapReverseProxy(proxy => proxy.UseInferencePipeline());
        app.MapFallback("{**path}", NotFound.WriteAsync);
        return app;
    }

    /// <summary>
    /// In a dev build (see the csproj's <c>SidecarDevBuild</c>): the repo root, where the <c>appsettings.json</c> and
    /// <c>appsettings.Development.json</c> the user edits live. Null in a release build, or when that folder has no
    /// <c>appsettings.json</c> (the build was moved).
    /// </summary>
    internal static string? SourceConfigDirectory { get; } = typeof(SidecarApplication).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), inherit: false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "InferenceSidecar.SourceConfigDirectory")?.Value is { } dir && File.Exists(Path.Combine(dir, "appsettings.json"))
            ? dir
            : null;

    /// <summary>
    /// Reads and watches <c>appsettings.json</c> and <c>appsettings.{Environment}.json</c> in <paramref name="directory"/>
    /// instead of the content root (the build output under <c>bin/</c>, whose copies are refreshed only by a rebuild).
    /// <c>dotnet run</c> in Development so watches the repo-root files the README tells the user to edit; the container
    /// reads <c>/app/appsettings.json</c> (a mounted file is watched in place) and <c>SIDECAR_CONFIG</c>.
    /// </summary>
    internal static void WatchConfigFilesIn(WebApplicationBuilder builder, string directory)
    {
        var sources = (IList<IConfigurationSource>)((IConfigurationBuilder)builder.Configuration).Sources;
        var names = new[] { "appsettings.json", $"appsettings.{builder.Environment.EnvironmentName}.json" };
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is JsonConfigurationSource { Path: { } path } json && names.Contains(path, StringComparer.OrdinalIgnoreCase))
            {
                sources[i] = new JsonConfigurationSource
                {
                    Path = path,
                    Optional = json.Optional,
                    ReloadOnChange = true,
                    FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetFullPath(directory)),
                };
            }
        }
    }

    /// <summary>
    /// <c>SIDECAR_CONFIG</c> names an extra JSON file (the Helm chart's ConfigMap), watched for changes. It goes after the
    /// built-in JSON files and before environment variables and arguments, so <c>Kestrel__…</c>-style overrides still win.
    /// </summary>
    private static void AddConfigFile(ConfigurationManager configuration)
    {
        var path = Environment.GetEnvironmentVariable("SIDECAR_CONFIG");
        if (string.IsNullOrWhiteSpace(path))
        {
            return;
        }

        var sources = (IList<IConfigurationSource>)((IConfigurationBuilder)configuration).Sources;
        var index = sources.Select((s, i) => (s, i)).Where(x => x.s is JsonConfigurationSource).Select(x => x.i + 1).DefaultIfEmpty(0).Max();
        var source = new JsonConfigurationSource { Path = Path.GetFullPath(path), Optional = false, ReloadOnChange = true };
        source.ResolveFileProvider();
        sources.Insert(index, source);
    }

    private static WebApplicationBuilder AddSidecarListeners(this WebApplicationBuilder builder)
    {
        var listeners = new ListenerRegistry();
        builder.Services.AddSingleton(listeners);
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = context.Configuration.GetValue<long?>("Sidecar:MaxRequestBodyBytes") ?? 10 * 1024 * 1024;
            // Explicit limits (each overridable under Kestrel:Limits): slow or oversized clients get 4xx or a closed connection.
            kestrel.Limits.MaxRequestHeadersTotalSize = context.Configuration.GetValue<int?>("Kestrel:Limits:MaxRequestHeadersTotalSize") ?? 64 * 1024;
            kestrel.Limits.RequestHeadersTimeout = context.Configuration.GetValue<TimeSpan?>("Kestrel:Limits:RequestHeadersTimeout") ?? TimeSpan.FromSeconds(15);
            kestrel.Limits.MaxConcurrentConnections = context.Configuration.GetValue<long?>("Kestrel:Limits:MaxConcurrentConnections") ?? 10_000;
            kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
            kestrel.Configure(context.Configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint(ListenerRegistry.ProxyEndpoint, endpoint => listeners.Register(ListenerRegistry.ProxyEndpoint, endpoint.ListenOptions))
                .Endpoint(ListenerRegistry.ManagementEndpoint, endpoint => listeners.Register(ListenerRegistry.ManagementEndpoint, endpoint.ListenOptions));
        });
        return builder;
    }
}
