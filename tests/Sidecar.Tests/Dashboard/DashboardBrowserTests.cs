using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Dashboard;

/// <summary>
/// The dashboard in Debian's real headless <c>chromium</c>, driven over the DevTools protocol: real traffic through the
/// sidecar (fake provider on loopback), then what each view shows. Set <c>SIDECAR_UI_SCREENSHOTS</c> to a folder
/// (scripts/ui-screenshots.sh sets it to docs/) to keep a PNG of each view at 1280 and 390 px wide.
/// </summary>
public sealed class DashboardBrowserTests
{
    private const string Chat = "openai/v1/chat/completions";

    private static string Body(string model, string text) => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{text}}"}]}""";

    private static Task<SidecarWithFake> StartAsync() => SidecarWithFake.StartAsync((s, _, keys) =>
    {
        s["Sidecar:Admin:Token"] = keys.AdminReference;
        s["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "3";
        s["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
        s["ReverseProxy:Routes:openai:Metadata:CacheScope"] = "Shared";
    });

    // alice: 3 served, the 4th refused by requests per minute. Sent just before the Users view is read: the bucket
    // refills one request per 20 s, and a loaded machine can take that long to start a browser.
    private static async Task AliceAsync(SidecarWithFake env)
    {
        for (var i = 0; i < 4; i++)
        {
            await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Body("gpt-4o", "alice " + i), ("X-User-Id", "alice")));
        }
    }

    // bob: 2 on another model; carol: the same prompt twice (a miss, then a cache hit).
    private static async Task TrafficAsync(SidecarWithFake env)
    {
        for (var i = 0; i < 2; i++)
        {
            await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Body("gpt-4o-mini", "bob " + i), ("X-User-Id", "bob")));
        }

        for (var i = 0; i < 2; i++)
        {
            await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Body("gpt-4o-mini", "same prompt"), ("X-User-Id", "carol")));
        }
    }

    private static Task<JsonElement> RowsAsync(HeadlessChromium browser, string table) =>
        browser.EvaluateAsync($"[...document.querySelectorAll('#{table} tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()))");

    private static List<string[]> Rows(JsonElement rows) =>
        rows.EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetString()!).ToArray()).ToList();

    private static async Task ShowAsync(HeadlessChromium browser, string view)
    {
        await browser.WaitForAsync($"document.body.dataset.loaded === '{view}'");
    }

    private static async Task ScreenshotAsync(HeadlessChromium browser, string view, List<string> shots)
    {
        var folder = Environment.GetEnvironmentVariable("SIDECAR_UI_SCREENSHOTS");
        foreach (var width in new[] { 1280, 390 })
        {
            await browser.SetViewportAsync(width, width == 1280 ? 800 : 844);
            var png = await browser.ScreenshotAsync();
            Assert.True(png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "a PNG");

            // Readable at that width: nothing wider than the viewport except inside the scrolling table boxes.
            var overflow = await browser.EvaluateAsync("document.documentElement.scrollWidth > window.innerWidth + 1");
            Assert.True(overflow.ValueKind == JsonValueKind.False, $"{view} at {width} px scrolls sideways");
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
                var path = Path.Combine(folder, $"ui-{view}-{width}.png");
                await File.WriteAllBytesAsync(path, png);
                shots.Add(path);
            }
        }

        await browser.SetViewportAsync(1280, 800);
    }

    [Fact]
    public async Task Dashboard_AfterRealTraffic_EachViewShowsWhatHappened()
    {
        await using var env = await StartAsync();
        await TrafficAsync(env);
        await using var browser = await HeadlessChromium.StartAsync();
        var shots = new List<string>();

        // Signed out: the login form, focused; the token typed and sent with Enter, as a keyboard user would.
        await browser.NavigateAsync(new Uri(env.Sidecar.ManagementAddress, "ui"));
        await browser.WaitForAsync("!document.getElementById('login').hidden && document.activeElement.id === 'token'");
        await ScreenshotAsync(browser, "login", shots);
        await browser.TypeAsync(env.Keys.AdminToken);
        await browser.PressAsync("Enter", 13);
        await ShowAsync(browser, "usage");

        // Users first (see AliceAsync).
        await AliceAsync(env);
        await browser.EvaluateAsync("document.getElementById('tab-users').click(); true");
        await ShowAsync(browser, "users");
        var top = Rows(await RowsAsync(browser, "top-users"));
        Assert.Equal(["alice", "bob", "carol"], top.Select(r => r[0]).ToArray());
        Assert.Equal("3", top[0][1]);
        var near = Rows(await RowsAsync(browser, "near-limits"));
        var aliceLimit = Assert.Single(near, r => r[0] == "alice");
        Assert.Equal("requests per minute (gpt-4o)", aliceLimit[1]);
        Assert.Equal("3", aliceLimit[3]);
        Assert.InRange(int.Parse(aliceLimit[4], System.Globalization.CultureInfo.InvariantCulture), 80, 100);
        Assert.Contains(aliceLimit[5], new[] { "at limit", "near limit" });
        Assert.DoesNotContain(near, r => r[0] == "bob"); // 2 of 3: 67 %, under the 80 % line
        await ScreenshotAsync(browser, "users", shots);
        await browser.EvaluateAsync("document.getElementById('tab-usage').click(); true");
        await ShowAsync(browser, "usage");

        var url = (await browser.EvaluateAsync("location.href")).GetString()!;
        Assert.DoesNotContain(env.Keys.AdminToken, url, StringComparison.Ordinal);
        Assert.Equal(env.Keys.AdminToken, (await browser.EvaluateAsync("sessionStorage.getItem('sidecarAdminToken')")).GetString());

        // Usage: one row per model today; alice's 3 served + 0 refused on gpt-4o, bob's 2 + carol's 2 on gpt-4o-mini.
        var usage = Rows(await RowsAsync(browser, "usage-table"));
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(usage, r => r[0] == today && r[1] == "gpt-4o" && r[2] == "3");
        Assert.Contains(usage, r => r[0] == today && r[1] == "gpt-4o-mini" && r[2] == "4");
        Assert.True((await browser.EvaluateAsync("document.querySelectorAll('#chart-cost rect').length >= 2")).GetBoolean(), "a bar per model");
        await ScreenshotAsync(browser, "usage", shots);

        // One user's usage: the filter form.
        await browser.EvaluateAsync("document.getElementById('usage-user').value = 'bob'; document.getElementById('usage-filter').requestSubmit(); true");
        await browser.WaitForAsync("document.body.dataset.loaded === 'usage' && [...document.querySelectorAll('#usage-table tbody tr')].length === 1");
        var bobs = Rows(await RowsAsync(browser, "usage-table"));
        Assert.Equal(["gpt-4o-mini", "2"], bobs.Single()[1..3]);

        // Users: arrow keys move between tabs (focus on the tab list first).
        await browser.EvaluateAsync("document.getElementById('tab-usage').focus(); true");
        await browser.PressAsync("ArrowRight", 39);
        await ShowAsync(browser, "users");
        Assert.Equal("tab-users", (await browser.EvaluateAsync("document.activeElement.id")).GetString());

        await browser.PressAsync("ArrowRight", 39);
        await ShowAsync(browser, "refusals");
        Assert.Equal([["Requests", "1"]], Rows(await RowsAsync(browser, "refusal-reasons")).Select(r => r.ToList()).ToList());
        var recent = Rows(await RowsAsync(browser, "refusal-recent")).Single();
        Assert.Equal(["alice", "gpt-4o", "openai", "Requests"], recent[1..]);
        await ScreenshotAsync(browser, "refusals", shots);

        await browser.PressAsync("ArrowRight", 39);
        await ShowAsync(browser, "cache");
        Assert.Equal("1", (await browser.EvaluateAsync("document.getElementById('cache-hits').textContent")).GetString());
        Assert.Equal("7", (await browser.EvaluateAsync("document.getElementById('cache-requests').textContent")).GetString());
        Assert.Equal("14.3 %", (await browser.EvaluateAsync("document.getElementById('cache-ratio').textContent")).GetString());
        var saved = (await browser.EvaluateAsync("document.getElementById('cache-saved').textContent")).GetString()!;
        Assert.True(double.Parse(saved.TrimStart('$'), System.Globalization.CultureInfo.InvariantCulture) > 0, saved);
        await ScreenshotAsync(browser, "cache", shots);

        await browser.PressAsync("ArrowRight", 39);
        await ShowAsync(browser, "clusters");
        var clusters = Rows(await RowsAsync(browser, "clusters"));
        var openai = Assert.Single(clusters, r => r[0] == "openai");
        Assert.Equal("closed", openai[1]);
        Assert.Equal(["OpenAI", "1/1"], openai[3..5]);
        await ScreenshotAsync(browser, "clusters", shots);

        // The reset button, reached with Tab and pressed with Enter.
        await browser.EvaluateAsync("document.querySelector('#clusters button[aria-label=\"Reset circuit of anthropic\"]').focus(); true");
        await browser.PressAsync("Tab", 9);
        Assert.Equal("Reset circuit of openai", (await browser.EvaluateAsync("document.activeElement.getAttribute('aria-label')")).GetString());
        await browser.PressAsync("Enter", 13);
        await browser.WaitForAsync("document.getElementById('status').textContent.includes('Circuit of openai reset')");
        Assert.Contains(env.Sidecar.Logs.Events, e => e.Properties.TryGetValue("Action", out var a) && a.ToString() == "\"circuit.reset\"");

        await browser.PressAsync("ArrowRight", 39); // the status line took focus away from the tabs: click instead
        await browser.EvaluateAsync("document.getElementById('tab-redis').click(); true");
        await ShowAsync(browser, "redis");
        Assert.Contains("not_configured", (await browser.EvaluateAsync("document.getElementById('redis').textContent")).GetString(), StringComparison.Ordinal);
        await ScreenshotAsync(browser, "redis", shots);

        // Sign out clears the token.
        await browser.EvaluateAsync("document.getElementById('signout').click(); true");
        await browser.WaitForAsync("!document.getElementById('login').hidden");
        Assert.Equal(JsonValueKind.Null, (await browser.EvaluateAsync("sessionStorage.getItem('sidecarAdminToken')")).ValueKind);
    }

    [Fact]
    public async Task Dashboard_WrongToken_StaysOnLoginWithError()
    {
        await using var env = await StartAsync();
        await using var browser = await HeadlessChromium.StartAsync();

        await browser.NavigateAsync(new Uri(env.Sidecar.ManagementAddress, "ui"));
        await browser.WaitForAsync("document.activeElement.id === 'token'");
        await browser.TypeAsync("not-the-token");
        await browser.PressAsync("Enter", 13);
        await browser.WaitForAsync("document.getElementById('login-error').textContent.length > 0");

        Assert.Equal("The token was refused.", (await browser.EvaluateAsync("document.getElementById('login-error').textContent")).GetString());
        Assert.True((await browser.EvaluateAsync("document.getElementById('app').hidden")).GetBoolean());
    }

    [Fact]
    public async Task Dashboard_Assets_ServedWithCspOnManagementPortOnly_404WithoutAdminToken()
    {
        await using var env = await StartAsync();
        await using var without = await SidecarWithFake.StartAsync();

        var page = await env.Sidecar.Management.GetAsync("ui");
        var script = await env.Sidecar.Management.GetAsync("ui/app.js");
        var onProxy = await env.Sidecar.Client.GetAsync("ui");
        var missing = await env.Sidecar.Management.GetAsync("ui/nope.js");
        var disabled = await without.Sidecar.Management.GetAsync("ui");

        Assert.Equal(200, (int)page.StatusCode);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("sessionStorage", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(404, (int)onProxy.StatusCode);
        Assert.Equal(404, (int)missing.StatusCode);
        Assert.Equal(404, (int)disabled.StatusCode);
    }
}
