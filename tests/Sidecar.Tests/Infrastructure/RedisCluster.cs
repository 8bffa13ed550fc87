using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// A real 3-master Redis Cluster on loopback (no replicas): three Debian <c>redis-server --cluster-enabled yes</c> on
/// free ports, joined with <c>redis-cli --cluster create</c>, ready once every node reports <c>cluster_state:ok</c>.
/// Node files live in a temporary folder removed on dispose; the servers are stopped by pid. <see cref="Admin"/> is a
/// plain StackExchange.Redis connection for assertions (which node holds a key, TTLs).
/// </summary>
internal sealed class RedisCluster : IAsyncDisposable
{
    private readonly List<Process> _nodes = [];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("sidecar-cluster-");
    private ConnectionMultiplexer? _admin;

    private RedisCluster(int[] ports) => Ports = ports;

    public IReadOnlyList<int> Ports { get; }

    /// <summary>Lists all three nodes, as a user would.</summary>
    public string ConnectionString => string.Join(',', Ports.Select(p => $"127.0.0.1:{p}"));

    public ConnectionMultiplexer Admin => _admin ?? throw new InvalidOperationException("not started");

    public static async Task<RedisCluster> StartAsync()
    {
        // Client ports in 20000-22767, so the cluster bus ports (+10000) stay below Linux's ephemeral range too.
        var cluster = new RedisCluster(FreePorts(3));
        try
        {
            await cluster.StartNodesAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The client port of the master that serves <paramref name="key"/>'s hash slot.</summary>
    public int PortFor(string key) => ((IPEndPoint)Admin.GetDatabase().IdentifyEndpoint(key)!).Port;

    /// <summary>Every key on every master matching <paramref name="pattern"/>, with its remaining TTL (null = none).</summary>
    public async Task<List<(string Key, int Port, TimeSpan? Ttl)>> KeysAsync(string pattern = "*")
    {
        var db = Admin.GetDatabase();
        var keys = new List<(string, int, TimeSpan?)>();
        foreach (var endpoint in Admin.GetEndPoints())
        {
            var server = Admin.GetServer(endpoint);
            foreach (var key in server.Keys(pattern: pattern, pageSize: 1000))
            {
                keys.Add(((string)key!, ((IPEndPoint)endpoint).Port, await db.KeyTimeToLiveAsync(key)));
            }
        }

        return keys;
    }

    public ValueTask DisposeAsync()
    {
        _admin?.Dispose();
        foreach (var node in _nodes)
        {
            if (!node.HasExited)
            {
                node.Kill();
                node.WaitForExit();
            }

            node.Dispose();
        }

        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
            // a node may still be writing its config: the temp folder is left behind
        }

        return ValueTask.CompletedTask;
    }

    private static int[] FreePorts(int count)
    {
        var ports = new List<int>();
        for (var attempt = 0; ports.Count < count; attempt++)
        {
            var port = Random.Shared.Next(20000, 22767);
            if (ports.Contains(port) || !Free(port) || !Free(port + 10000))
            {
                if (attempt > 200)
                {
                    throw new InvalidOperationException("no free ports for a Redis Cluster");
                }

                continue;
            }

            ports.Add(port);
        }

        return [.. ports];
    }

    private static bool Free(int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static Process Run(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start; install Debian's redis-server and redis-tools");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task StartNodesAsync()
    {
        foreach (var port in Ports)
        {
            _nodes.Add(Run(
                "redis-server",
                $"--port {port} --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file {_dir.FullName}/nodes-{port}.conf " +
                $"--dir {_dir.FullName} --save \"\" --appendonly no --protected-mode no --loglevel warning"));
        }

        foreach (var port in Ports)
        {
            await WaitAsync(port, "PING", reply => reply.StartsWith("+PONG", StringComparison.Ordinal));
        }

        using (var create = Run("redis-cli", $"--cluster create {string.Join(' ', Ports.Select(p => $"127.0.0.1:{p}"))} --cluster-replicas 0 --cluster-yes"))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await create.WaitForExitAsync(timeout.Token);
            if (create.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create exited with {create.ExitCode}");
            }
        }

        foreach (var port in Ports)
        {
            await WaitAsync(port, "CLUSTER INFO", reply => reply.Contains("cluster_state:ok", StringComparison.Ordinal));
        }

        _admin = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
    }

    private static async Task WaitAsync(int port, string command, Func<string, bool> ready)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await CommandAsync(port, command) is { } reply && ready(reply))
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"redis-server on port {port}: '{command}' never became ready");
    }

    /// <summary>One inline command; the whole first read of the reply (e.g. <c>+PONG</c>, a bulk string), or null when unreachable.</summary>
    private static async Task<string?> CommandAsync(int port, string command)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);
            var buffer = new byte[8192];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return null;
        }
    }
}
