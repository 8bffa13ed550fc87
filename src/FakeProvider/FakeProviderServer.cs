using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceSidecar.FakeProvider;

/// <summary>The fake provider on its own real Kestrel listener on loopback (port 0 unless given).</summary>
public sealed class FakeProviderServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeProviderServer(WebApplication app, Uri baseAddress, ConcurrentQueue<RecordedRequest> received)
    {
        _app = app;
        BaseAddress = baseAddress;
        Received = received;
    }

    /// <summary>Base address ending in <c>/</c>, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>How the next requests are answered.</summary>
    public FakeBehavior Behavior { get; set; } = new();

    /// <summary>One-shot behaviours, each used by exactly one request before <see cref="Behavior"/> applies again.</summary>
    public ConcurrentQueue<FakeBehavior> Next { get; } = new();

    /// <summary>When each request's connection was aborted by the caller (client or proxy), by request path.</summary>
    public ConcurrentQueue<(string Path, DateTimeOffset At)> Aborted { get; } = new();

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<RecordedRequest> Received { get; }

    public static async Task<FakeProviderServer> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();

        // Ignore any appsettings.json next to the caller (e.g. the sidecar's Kestrel endpoints): only the port given here.
        ((IConfigurationBuilder)builder.Configuration).Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        FakeProviderServer? server = null;
        var received = new ConcurrentQueue<RecordedRequest>();
        app.MapFakeProvider("/", () => server is null ? new FakeBehavior() : server.Next.TryDequeue(out var once) ? once : server.Behavior, received);
        app.Use(async (context, next) =>
        {
            // Read the path now: the abort callbacks can run after the handler has ended and Kestrel has recycled the
            // context, when touching context.Request throws inside the callback and the abort would go unrecorded.
            var path = context.Request.Path.Value ?? string.Empty;
            context.RequestAborted.Register(() => server?.Aborted.Enqueue((path, TimeProvider.System.GetUtcNow())));
            await next(context);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeProviderServer(app, new Uri(address.TrimEnd('/') + "/"), received);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
