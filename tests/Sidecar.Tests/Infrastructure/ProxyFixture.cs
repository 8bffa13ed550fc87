using InferenceSidecar.FakeProvider;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>One fake provider and one sidecar pointed at it, shared by a test class.</summary>
public sealed class ProxyFixture : IAsyncLifetime
{
    internal FakeProviderServer Fake { get; private set; } = null!;

    internal SidecarInstance Sidecar { get; private set; } = null!;

    internal ProviderKeys Keys { get; } = new();

    public async Task InitializeAsync()
    {
        Fake = await FakeProviderServer.StartAsync();
        Sidecar = await SidecarInstance.StartAsync(TestSettings.PointAt(Fake, Keys));
    }

    public async Task DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Fake.DisposeAsync();
        Keys.Dispose();
    }

    /// <summary>Clears what the fake received and resets its behaviour, so each test sees only its own requests.</summary>
    internal FakeProviderServer Reset(FakeBehavior? behavior = null)
    {
        Fake.Received.Clear();
        Fake.Behavior = behavior ?? new FakeBehavior();
        return Fake;
    }
}
