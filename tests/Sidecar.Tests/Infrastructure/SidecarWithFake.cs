using InferenceSidecar.FakeProvider;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>A fake provider, file provider keys, and a sidecar pointed at them with per-test settings on top.</summary>
internal sealed class SidecarWithFake : IAsyncDisposable
{
    private SidecarWithFake(FakeProviderServer fake, ProviderKeys keys, SidecarInstance sidecar)
    {
        Fake = fake;
        Keys = keys;
        Sidecar = sidecar;
    }

    public FakeProviderServer Fake { get; }

    public ProviderKeys Keys { get; }

    public SidecarInstance Sidecar { get; }

    public static async Task<SidecarWithFake> StartAsync(Action<Dictionary<string, string?>, FakeProviderServer, ProviderKeys>? configure = null, ProviderKeys? keys = null)
    {
        keys ??= new ProviderKeys();
        var fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(fake, keys);
        configure?.Invoke(settings, fake, keys);
        return new SidecarWithFake(fake, keys, await SidecarInstance.StartAsync(settings));
    }

    public async ValueTask DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Fake.DisposeAsync();
        Keys.Dispose();
    }
}
