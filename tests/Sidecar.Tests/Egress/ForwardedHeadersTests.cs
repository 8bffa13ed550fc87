using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Egress;

/// <summary>Provider routes send no <c>X-Forwarded-*</c> (YARP adds them by default) unless the cluster opts in.</summary>
public sealed class ForwardedHeadersTests
{
    private static readonly string[] Forwarded = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix", "Forwarded"];

    [Fact]
    public async Task Send_DefaultCluster_NoXForwardedHeadersReachProvider()
    {
        await using var env = await SidecarWithFake.StartAsync();

        // Act: one plain request, one that brings its own X-Forwarded-* values.
        await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "xf")));
        await Http.SendAsync(env.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "xf"),
            ("X-Forwarded-For", "10.1.2.3"), ("X-Forwarded-Host", "internal.example"), ("Forwarded", "for=10.1.2.3")));

        // Assert
        Assert.Equal(2, env.Fake.Received.Count);
        foreach (var request in env.Fake.Received)
        {
            Assert.All(Forwarded, name => Assert.Null(request.Header(name)));
        }
    }

    [Fact]
    public async Task Send_ClusterOptsIn_XForwardedSetBySidecarNotClient()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => s["ReverseProxy:Clusters:openai:Metadata:XForwarded"] = "true");

        await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "xf"), ("X-Forwarded-For", "10.1.2.3")));
        await Http.SendAsync(env.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "xf")));

        var openai = env.Fake.Received.First();
        Assert.Equal("127.0.0.1", openai.Header("X-Forwarded-For"));
        Assert.Equal("http", openai.Header("X-Forwarded-Proto"));
        Assert.NotNull(openai.Header("X-Forwarded-Host"));
        Assert.Null(env.Fake.Received.Last().Header("X-Forwarded-For")); // the anthropic cluster did not opt in
    }

    [Fact]
    public async Task Start_XForwardedNotABoolean_ConfigRejectedNamingKey()
    {
        using var keys = new ProviderKeys();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(fake, keys);
        settings["ReverseProxy:Clusters:openai:Metadata:XForwarded"] = "sometimes";

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await (await SidecarInstance.StartAsync(settings)).DisposeAsync());

        Assert.Contains("ReverseProxy:Clusters:openai:Metadata:XForwarded", error.ToString(), StringComparison.Ordinal);
    }
}
