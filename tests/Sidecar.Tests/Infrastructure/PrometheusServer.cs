using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// A real Debian <c>prometheus</c> scraping one target every second, with its own TSDB in a temp folder and its API on a
/// free loopback port. The test command installs the package when missing.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly HttpClient _api;

    private PrometheusServer(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        _api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    public static async Task<PrometheusServer> StartAsync(Uri target)
    {
        var dir = Directory.CreateTempSubdirectory("sidecar-prometheus").FullName;
        var config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
            scrape_configs:
              - job_name: sidecar
                static_configs:
                  - targets: ['{target.Authority}']
            """);
        var port = FreePort();
        var info = new ProcessStartInfo("prometheus", $"--config.file={config} --storage.tsdb.path={Path.Combine(dir, "data")} --web.listen-address=127.0.0.1:{port} --log.level=warn")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("prometheus did not start; install Debian's prometheus");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, dir, port);
        for (var i = 0; i < 200; i++)
        {
            try
            {
                if ((await server._api.GetAsync("-/ready")).IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException("prometheus did not become ready");
    }

    /// <summary>Runs an instant PromQL query; the value of its single result, or null when it returns nothing.</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        var json = await _api.GetFromJsonAsync<JsonElement>("api/v1/query?query=" + Uri.EscapeDataString(promql));
        var result = json.GetProperty("data").GetProperty("result");
        return result.GetArrayLength() == 0
            ? null
            : double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Polls <paramref name="promql"/> until it returns <paramref name="expected"/> (scrapes are every second).</summary>
    public async Task<double?> WaitForAsync(string promql, double expected, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        double? last = null;
        while (deadline.Elapsed < timeout)
        {
            last = await QueryAsync(promql);
            if (last == expected)
            {
                return last;
            }

            await Task.Delay(250);
        }

        return last;
    }

    public async ValueTask DisposeAsync()
    {
        _api.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
