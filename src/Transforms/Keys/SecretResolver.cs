using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace InferenceSidecar.Keys;

/// <summary>
/// Resolves secret references to values. File secrets are re-read at most once per <see cref="RefreshInterval"/>,
/// so a rotated Kubernetes secret (an atomic symlink swap) takes effect without a restart and without a file
/// watcher that misses the swap. Environment variables are read once per interval too (cheap, and lets tests set them).
/// A missing secret is logged once per reference, naming the variable or path and never a value.
/// </summary>
internal sealed partial class SecretResolver(TimeProvider time, ILogger<SecretResolver> logger)
{
    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _warned = new(StringComparer.Ordinal);

    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Resolves <paramref name="referenceText"/>; <c>null</c> when it names nothing that exists.</summary>
    /// <param name="referenceText">An <c>env:</c>/<c>file:</c>/<c>none</c> reference.</param>
    /// <param name="value">The secret, or <c>""</c> for <c>none</c>.</param>
    /// <param name="warnIfMissing">False for optional secrets (the admin token), whose absence is a normal state.</param>
    public bool TryResolve(string referenceText, out string value, bool warnIfMissing = true)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(referenceText, out var entry) && time.GetElapsedTime(entry.ReadAt, now) < RefreshInterval)
        {
            value = entry.Value ?? string.Empty;
            return entry.Value is not null;
        }

        var resolved = Read(referenceText);
        _cache[referenceText] = new Entry(resolved, now);
        if (resolved is null)
        {
            if (warnIfMissing && _warned.TryAdd(referenceText, true))
            {
                LogMissing(logger, Describe(referenceText));
            }
        }
        else if (_warned.TryRemove(referenceText, out _))
        {
            LogAvailable(logger, Describe(referenceText));
        }

        value = resolved ?? string.Empty;
        return resolved is not null;
    }

    private static string Describe(string referenceText) =>
        SecretReference.TryParse(referenceText, out var reference, out _) ? reference.ToString() : "(invalid reference)";

    private static string? Read(string referenceText)
    {
        if (!SecretReference.TryParse(referenceText, out var reference, out _))
        {
            return null;
        }

        try
        {
            var raw = reference.Source switch
            {
                SecretSource.None => string.Empty,
                SecretSource.Environment => Environment.GetEnvironmentVariable(reference.Location),
                SecretSource.File => File.Exists(reference.Location) ? File.ReadAllText(reference.Location) : null,
                _ => null,
            };
            if (raw is null)
            {
                return null;
            }

            var trimmed = raw.Trim();
            return trimmed.Length == 0 && reference.Source != SecretSource.None ? null : trimmed;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Secret {Reference} is not available; routes that need it answer 503 until it is.")]
    private static partial void LogMissing(ILogger logger, string reference);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Secret {Reference} is available again.")]
    private static partial void LogAvailable(ILogger logger, string reference);

    private readonly record struct Entry(string? Value, long ReadAt);
}
