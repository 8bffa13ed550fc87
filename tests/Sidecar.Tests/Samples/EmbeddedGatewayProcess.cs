using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace InferenceSidecar.Tests.Samples;

/// <summary>
/// The sample host (<c>samples/EmbeddedGateway</c>) run as its own process, as an app would run it: <c>dotnet</c> on its
/// build output, Production environment, its own appsettings.json, overrides on the command line, port 0. The sample
/// sees only the library's public API (it has no InternalsVisibleTo).
/// </summary>
internal sealed partial class EmbeddedGatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private EmbeddedGatewayProcess(Process process) => _process = process;

    public Uri Address { get; private set; } = null!;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<EmbeddedGatewayProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        var dll = SampleAssembly();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls=http://127.0.0.1:0");
        foreach (var (key, value) in settings)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start the sample");
        var gateway = new EmbeddedGatewayProcess(process);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (gateway._output)
            {
                gateway._output.AppendLine(e.Data);
            }

            if (ListeningOn().Match(e.Data) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != listening.Task)
        {
            await gateway.DisposeAsync();
            throw new InvalidOperationException("The sample did not start listening:\n" + gateway.Output);
        }

        gateway.Address = await listening.Task;
        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>The sample's build output next to this test assembly's configuration (the test project builds it first).</summary>
    private static string SampleAssembly()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // …/bin/<Configuration>/net10.0/
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var sample = Path.Combine(dir.FullName, "samples", "EmbeddedGateway", "bin", configuration, "net10.0", "InferenceSidecar.Samples.EmbeddedGateway.dll");
            if (File.Exists(sample))
            {
                return sample;
            }
        }

        throw new FileNotFoundException("Build samples/EmbeddedGateway first (the test project references it).");
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
