using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace InferenceSidecar.Tests.Infrastructure;

internal static class TestPorts
{
    // Bound but never listening: connections are refused, and no other test's server can be given the port.
    private static readonly ConcurrentBag<Socket> Reserved = [];

    /// <summary>A loopback port that refuses connections for the rest of the test run.</summary>
    public static int Closed()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Reserved.Add(socket);
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
