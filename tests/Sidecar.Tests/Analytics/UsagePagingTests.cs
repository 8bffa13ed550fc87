using System.Text.Json;
using InferenceSidecar.Analytics;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Analytics;

/// <summary><c>/admin/usage</c> pages: limit, a cursor that stays valid while rows are added, totals over all pages.</summary>
public sealed class UsagePagingTests
{
    private static async Task ChatAsync(SidecarInstance sidecar, string user)
    {
        var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", user)));
        Assert.Equal(200, status);
    }

    private static List<string> Users(JsonElement page) => page.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("user").GetString()!).ToList();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Usage_PagedWhileRowsAreAdded_EveryEarlierRowOnceInOrder(bool redis)
    {
        // Arrange: 25 users (names m00..m48, even numbers) with one request each.
        await using var server = redis ? await RedisServer.StartAsync() : null;
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) =>
        {
            s["Sidecar:Admin:Token"] = keys.AdminReference;
            s["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "100000";
            if (server is not null)
            {
                s["ConnectionStrings:Redis"] = server.ConnectionString;
            }
        });
        var original = Enumerable.Range(0, 25).Select(i => $"m{i * 2:00}").ToList();
        foreach (var user in original)
        {
            await ChatAsync(env.Sidecar, user);
        }

        // Act: page by 10; between pages, users sorting before and after the cursor arrive.
        var pages = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await Infrastructure.Admin.GetAsync(env.Sidecar, "admin/usage?limit=10" + (cursor is null ? string.Empty : "&cursor=" + cursor), env.Keys.AdminToken);
            pages.Add(page);
            cursor = page.GetProperty("next_cursor").GetString();
            await ChatAsync(env.Sidecar, $"m{(pages.Count * 2) - 1:00}"); // m01, m03, ...: odd, between the originals
            await ChatAsync(env.Sidecar, "a-early-" + pages.Count);       // before every cursor: never shown
        }
        while (cursor is not null && pages.Count < 20);

        // Assert: pages of 10 in order, every original exactly once, nothing repeated; the first page's totals
        // cover all 25 rows then (not just its 10).
        var seen = pages.SelectMany(Users).ToList();
        Assert.Equal(10, Users(pages[0]).Count);
        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.All(original, u => Assert.Single(seen, s => s == u));
        Assert.DoesNotContain(seen, u => u.StartsWith("a-early-", StringComparison.Ordinal));
        Assert.Equal(25, pages[0].GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(JsonValueKind.Null, pages[^1].GetProperty("next_cursor").ValueKind);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=10001")]
    [InlineData("limit=ten")]
    [InlineData("cursor=not-a-cursor!")]
    public async Task Usage_BadPageArguments_400InOpenAIDialect(string query)
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => s["Sidecar:Admin:Token"] = keys.AdminReference);

        var (status, body, _) = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/usage?" + query, env.Keys.AdminToken);

        Assert.Equal(400, status);
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public void Pager_RowsInAnyOrder_KeepsOnlyThePageAndCountsAllInTotals()
    {
        var pager = new UsagePager(new UsageKey("2026-11-01", "b", "m"), 2);
        foreach (var user in new[] { "e", "a", "d", "b", "c", "f" })
        {
            pager.Add(new UsageKey("2026-11-01", user, "m"), new UsageEvent(1, 0, 0, 0, 0, 0));
        }

        var page = pager.Page();

        Assert.Equal(["c", "d"], page.Rows.Select(r => r.Key.User));
        Assert.Equal(6, page.Totals.Requests);
        Assert.Equal("d", page.Next!.Value.User);
        Assert.True(UsagePage.TryDecodeCursor(UsagePage.EncodeCursor(page.Next.Value), out var back));
        Assert.Equal(page.Next.Value, back);
    }
}
