using System.Net;
using System.Net.Sockets;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.Identity;

/// <summary>What anonymous callers (<c>Sidecar:Identity:AllowAnonymous</c>) are limited, cached and accounted as.</summary>
internal enum AnonymousPartitionMode
{
    /// <summary>All of them are one user, <c>AnonymousUser</c> (the behaviour before partitions existed).</summary>
    Shared,

    /// <summary>One user per client IP (IPv6 per /64): <c>{AnonymousUser}:ip:{address}</c>.</summary>
    ClientIp,

    /// <summary>One user per <c>SessionHeader</c> value, <c>{AnonymousUser}:session:{id}</c>; the client IP when the header is absent or malformed.</summary>
    Session,
}

/// <summary>
/// The user id of an anonymous caller. The client IP is the connection's remote address after ASP.NET Core's
/// <c>ForwardedHeaders</c> middleware, which only honours <c>X-Forwarded-For</c> from configured proxies
/// (<see cref="ClientAddress"/>): a client that is not one of them cannot choose its partition with that header.
/// </summary>
internal static class AnonymousPartition
{
    public static string UserFor(IdentityOptions options, IHeaderDictionary headers, IPAddress? remote)
    {
        switch (options.AnonymousPartition)
        {
            case AnonymousPartitionMode.Session when SessionId(headers[options.SessionHeader]) is { } session:
                return options.AnonymousUser + ":session:" + session;
            case AnonymousPartitionMode.Session or AnonymousPartitionMode.ClientIp:
                return options.AnonymousUser + ":ip:" + Key(remote);
            default:
                return options.AnonymousUser;
        }
    }

    /// <summary>
    /// An address as a partition key: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64 network, since one client
    /// usually holds a whole /64 and could otherwise rotate through it. <c>unknown</c> when there is no address.
    /// </summary>
    public static string Key(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString(); // e.g. 2001:db8:0:1:: (the /64; no "/" so the id stays a path segment)
    }

    /// <summary>A session id the client sent: 1-64 of A-Z a-z 0-9 . _ -; anything else counts as none.</summary>
    private static string? SessionId(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count != 1 || values[0] is not { Length: > 0 and <= 64 } value)
        {
            return null;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return null;
            }
        }

        return value;
    }
}
