using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// A real Debian <c>redis-server</c> on a free loopback port, owned by one test class: it can be killed, restarted
/// on the same port, frozen (SIGSTOP) and thawed (SIGCONT). The test command installs the package when missing.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        // Below Linux's ephemeral range (32768-60999): no other test's port-0 listener can take the port while
        // Redis is down between a kill and a restart.
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 30000);
            try
            {
                using var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                probe.Stop();
            }
            catch (SocketException) when (attempt < 50)
            {
                continue;
            }

            var server = new RedisServer(port);
            await server.RestartAsync();
            return server;
        }
    }

    public async Task RestartAsync()
    {
        var info = new ProcessStartInfo("redis-server", $"--port {Port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode no --loglevel warning")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start; install Debian's redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        for (var i = 0; i < 100; i++)
        {
            if (await CommandAsync("PING") == "+PONG")
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"redis-server on port {Port} did not answer PING");
    }

    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    public void Freeze() => Signal("STOP");

    public void Thaw() => Signal("CONT");

    /// <summary>Sends one inline command and returns the first reply line (e.g. <c>:1</c>, <c>+PONG</c>), or null when unreachable.</summary>
    public async Task<string?> CommandAsync(string command)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);
            var buffer = new byte[4096];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return null;
        }
    }

    /// <summary>Calls of one command since the server started (or <c>CONFIG RESETSTAT</c>), from <c>INFO commandstats</c>.</summary>
    public async Task<long> CallsAsync(string command)
    {
        var prefix = "cmdstat_" + command.ToLowerInvariant() + ":calls=";
        var line = (await BulkAsync("INFO commandstats")).Split("\r\n").FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[prefix.Length..line.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Sends one inline command whose reply is a bulk string (<c>INFO</c>, <c>CLIENT LIST</c>) and returns its text.</summary>
    public async Task<string> BulkAsync(string command)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);
        var reply = new List<byte>();
        var buffer = new byte[8192];
        var needed = int.MaxValue; // "$<length>\r\n<text>\r\n"
        var head = -1;
        while (reply.Count < needed)
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, "Redis closed the connection before the whole reply");
            reply.AddRange(buffer.AsSpan(0, read));
            if (head < 0 && (head = reply.IndexOf((byte)'\n')) > 0)
            {
                Assert.Equal((byte)'$', reply[0]);
                needed = head + 1 + int.Parse(Encoding.ASCII.GetString([.. reply.Skip(1).Take(head - 2)]), System.Globalization.CultureInfo.InvariantCulture) + 2;
            }
        }

        return Encoding.ASCII.GetString([.. reply.Skip(head + 1).Take(needed - head - 3)]);
    }

    public ValueTask DisposeAsync()
    {
        Thaw();
        Kill();
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Signal(string signal)
    {
        if (_process is { HasExited: false } process)
        {
            using var kill = Process.Start("kill", $"-{signal} {process.Id}");
            kill?.WaitForExit();
        }
    }
}
