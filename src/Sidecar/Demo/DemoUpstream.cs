using InferenceSidecar.Configuration;
#if SIDECAR_DEV_BUILD
using InferenceSidecar.FakeProvider;
#endif
using InferenceSidecar.Hosting;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Demo;

/// <summary>
/// The Development-only demo: the fake provider served on the management listener under <c>/demo-upstream</c>, and
/// routes <c>/demo/…</c> (OpenAI dialect) and <c>/demo-anthropic/…</c> (Anthropic dialect) to it through the real proxy
/// pipeline, so a first run with no keys and no network answers chat completions, JSON and streaming. The fake provider
/// is compiled in only by a dev build (<c>SIDECAR_DEV_BUILD</c>: Debug, as <c>dotnet run</c> builds it); the published
/// Release artifact has neither the code nor <c>InferenceSidecar.FakeProvider.dll</c>, and refuses
/// <c>Sidecar:Demo:Enabled</c> at start.
/// </summary>
internal static class DemoUpstream
{
    private const string UpstreamPrefix = "/demo-upstream";

#if SIDECAR_DEV_BUILD
    /// <summary>Whether this build carries the demo upstream.</summary>
    public const bool Available = true;
#else
    public const bool Available = false;
#endif

    public static IReverseProxyBuilder AddSidecarDemo(this IReverseProxyBuilder proxy)
    {
        proxy.Services.AddSingleton<IValidateOptions<SidecarOptions>, DemoOptionsValidator>();
        return proxy.LoadFromMemory([], []);
    }

    /// <summary>A build without the demo upstream refuses <c>Sidecar:Demo:Enabled</c> at start.</summary>
    private sealed class DemoOptionsValidator(IHostEnvironment environment) : IValidateOptions<SidecarOptions>
    {
        public ValidateOptionsResult Validate(string? name, SidecarOptions options) =>
            options.Demo.Enabled && !environment.IsProduction() && !Available
                ? ValidateOptionsResult.Fail("Sidecar:Demo:Enabled needs a dev build (Debug, as `dotnet run --project src/Sidecar` builds it); this build carries no demo upstream.")
                : ValidateOptionsResult.Success;
    }

    public static WebApplication MapSidecarDemo(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<SidecarOptions>>().Value.Demo.Enabled)
        {
            return app;
        }

#if SIDECAR_DEV_BUILD
        var behavior = new FakeBehavior { ReplyText = "Hello! This is the InferenceSidecar demo upstream: no keys, no network, one word per streamed event." };
        app.MapFakeProvider(UpstreamPrefix, () => behavior).WithMetadata(ManagementEndpointMetadata.Instance);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var listeners = app.Services.GetRequiredService<ListenerRegistry>();
            var port = (listeners.ManagementAddress ?? listeners.ProxyAddress)?.Port ?? 0;
            var destination = $"http://127.0.0.1:{port}{UpstreamPrefix}/";
            app.Services.GetRequiredService<InMemoryConfigProvider>().Update(
                [Route("demo", "/demo"), Route("demo-anthropic", "/demo-anthropic")],
                [Cluster("demo", "OpenAI", destination), Cluster("demo-anthropic", "Anthropic", destination)]);
        });
#endif
        return app;
    }

    private static RouteConfig Route(string id, string prefix) => new RouteConfig
    {
        RouteId = id,
        ClusterId = id,
        Match = new RouteMatch { Path = prefix + "/{**catch-all}" },
    }.WithTransformPathRemovePrefix(prefix);

    private static ClusterConfig Cluster(string id, string provider, string address) => new()
    {
        ClusterId = id,
        Metadata = new Dictionary<string, string> { ["Provider"] = provider, ["ApiKey"] = "none" },
        Destinations = new Dictionary<string, DestinationConfig> { ["primary"] = new() { Address = address } },
    };
}
