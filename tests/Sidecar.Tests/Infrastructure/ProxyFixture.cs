using InferenceSidecar.FakeProvider;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>One fake provider and one sidecar pointed at it, shared by a test class.</summary>
public sealed class ProxyFixture : IAsyncLifetime
{
    private SidecarWithFake _setup = null!;

    internal FakeProviderServer Fake => _setup.Fake;

    internal SidecarInstance Sidecar => _setup.Sidecar;

    internal ProviderKeys Keys => _setup.Keys;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync();

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    /// <summary>Clears what the fake received and resets its behaviour, so each test sees only its own requests.</summary>
    internal FakeProviderServer Reset(FakeBehavior? behavior = null)
    {
        Fake.Received.Clear();
        Fake.Behavior = behavior ?? new FakeBehavior();
        return Fake;
    }
}
