using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Metrics;

/// <summary>
/// Every panel of the chart's Grafana dashboard (charts/inference-sidecar/dashboards/inference-sidecar.json) queried on
/// a real Prometheus that scraped a sidecar under traffic (served, cached, refused, failed upstream, streamed): each
/// query must return data, so no panel of the shipped dashboard is empty for a metric name or label that does not exist.
/// </summary>
public sealed class GrafanaDashboardTests
{
    private static string DashboardPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "charts", "inference-sidecar", "dashboards", "inference-sidecar.json");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("charts/inference-sidecar/dashboards/inference-sidecar.json");
    }

    [Fact]
    public async Task GrafanaDashboard_EveryPanelQuery_ReturnsDataFromRealPrometheusAfterTraffic()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "5";
            s["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
        });
        await using var prometheus = await PrometheusServer.StartAsync(env.Sidecar.ManagementAddress);

        async Task TrafficAsync(int round)
        {
            await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "cached")));
            await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, ("X-User-Id", "s" + round)));
            for (var i = 0; i < 7; i++)
            {
                await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("sidecar", "sidecar " + i, StringComparison.Ordinal), ("X-User-Id", "busy" + round)));
            }

            env.Fake.Behavior = new FakeProvider.FakeBehavior { StatusCode = 500 };
            await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("sidecar", "failing", StringComparison.Ordinal), ("X-User-Id", "f" + round)));
            env.Fake.Behavior = new FakeProvider.FakeBehavior();
        }

        await TrafficAsync(0);
        await prometheus.WaitForAsync("count(sidecar_requests_total)", 1, TimeSpan.FromSeconds(30));
        await Task.Delay(1500);
        await TrafficAsync(1);
        await Task.Delay(2500); // two more scrapes: every rate() has two samples with an increase between them

        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(DashboardPath()));
        var empty = new List<string>();
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.True(panels.Count >= 10);
        foreach (var panel in panels)
        {
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                var expr = target.GetProperty("expr").GetString()!.Replace("$job", ".*", StringComparison.Ordinal);
                if (await prometheus.QueryAsync(expr) is null)
                {
                    empty.Add($"{panel.GetProperty("title").GetString()}: {expr}");
                }
            }
        }

        Assert.True(empty.Count == 0, "Panels with no data:\n" + string.Join("\n", empty));
    }
}
