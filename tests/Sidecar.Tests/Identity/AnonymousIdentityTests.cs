using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Identity;

public sealed class AnonymousIdentityTests
{
    [Fact]
    public async Task Send_NoIdentityWithAllowAnonymous_ForwardedAsAnonymous()
    {
        using var keys = new ProviderKeys();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(fake, keys);
        settings["Sidecar:Identity:AllowAnonymous"] = "true";
        settings["Sidecar:Identity:UserHeader"] = "X-Tenant-User";
        await using var sidecar = await SidecarInstance.StartAsync(settings);

        var (anonymous, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody));
        var (named, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-Tenant-User", "carol")));

        Assert.Equal(200, anonymous);
        Assert.Equal(200, named);
        // The request line is written after the pipeline ends, by the request log's writer thread: wait for the second.
        await sidecar.Logs.WaitForAsync(e => e.Properties.TryGetValue("User", out var user) && user.ToString() == "\"carol\"");
        var users = sidecar.Logs.Events.Where(e => e.MessageTemplate.Text.Contains("user=", StringComparison.Ordinal)).Select(e => e.Properties["User"].ToString()).ToArray();
        Assert.Equal(["\"anonymous\"", "\"carol\""], users);
        Assert.All(fake.Received, r => Assert.Null(r.Header("X-Tenant-User")));
    }
}
