using InferenceSidecar.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// The real sidecar (same composition as Program.cs, same appsettings.json) on real Kestrel, both listeners on
/// loopback port 0, with per-test settings layered on top and every log event captured.
/// </summary>
internal sealed class SidecarInstance : IAsyncDisposable
{
    private SidecarInstance(WebApplication app, LogCapture logs)
    {
        App = app;
        Logs = logs;
        var listeners = app.Services.GetRequiredService<ListenerRegistry>();
        ProxyAddress = new Uri($"http://127.0.0.1:{listeners.ProxyAddress!.Port}/");
        ManagementAddress = new Uri($"http://127.0.0.1:{listeners.ManagementAddress!.Port}/");
        Client = new HttpClient { BaseAddress = ProxyAddress };
        Management = new HttpClient { BaseAddress = ManagementAddress };
    }

    public WebApplication App { get; }

    public LogCapture Logs { get; }

    public Uri ProxyAddress { get; }

    public Uri ManagementAddress { get; }

    /// <summary>A plain client for the proxy port.</summary>
    public HttpClient Client { get; }

    /// <summary>A plain client for the management port.</summary>
    public HttpClient Management { get; }

    public static async Task<SidecarInstance> StartAsync(
        IDictionary<string, string?> settings,
        string environment = "Production",
        string? jsonFile = null,
        Action<WebApplicationBuilder>? configure = null,
        Action<IServiceCollection>? services = null)
    {
        var logs = new LogCapture();
        var merged = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Kestrel:Endpoints:Proxy:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:Management:Url"] = "http://127.0.0.1:0",
            ["Serilog:MinimumLevel:Default"] = "Information",
        };
        foreach (var (key, value) in settings)
        {
            merged[key] = value;
        }

        var app = SidecarApplication.Create(
            ["--environment=" + environment],
            builder =>
            {
                configure?.Invoke(builder);
                if (jsonFile is not null)
                {
                    builder.Configuration.AddJsonFile(jsonFile, optional: false, reloadOnChange: true);
                }

                builder.Configuration.AddInMemoryCollection(merged);
                services?.Invoke(builder.Services); // e.g. a FakeTimeProvider, registered before the sidecar's TryAdd
            },
            logging => logging.WriteTo.Sink(logs));
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new SidecarInstance(app, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Management.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
