using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// An upstream on real Kestrel (loopback, port 0) that answers every request with what <see cref="Handler"/> writes:
/// canned echoes, odd encodings and redirects that the fake provider does not produce.
/// </summary>
internal sealed class CannedUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CannedUpstream(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>Writes the answer; replace between requests.</summary>
    public Func<HttpContext, Task> Handler { get; set; } = context => context.Response.WriteAsync("{}");

    /// <summary>Request headers of every request received, in order.</summary>
    public ConcurrentQueue<Dictionary<string, string>> Received { get; } = new();

    public static async Task<CannedUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        ((IConfigurationBuilder)builder.Configuration).Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        CannedUpstream? upstream = null;
        app.Run(async context =>
        {
            upstream!.Received.Enqueue(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
            await upstream.Handler(context);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream = new CannedUpstream(app, new Uri(address.TrimEnd('/') + "/"));
        return upstream;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
