using System.Globalization;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Parses YARP route/cluster <c>Metadata</c> values the one way every policy uses: absent means the default; present
/// but invalid returns false (so validation can reject the config naming the key) and still yields the default.
/// </summary>
internal static class MetadataValues
{
    public static bool TryDuration(IReadOnlyDictionary<string, string>? metadata, string key, TimeSpan fallback, out TimeSpan value)
    {
        value = fallback;
        if (metadata is null || !metadata.TryGetValue(key, out var text))
        {
            return true;
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var parsed) && parsed > TimeSpan.Zero)
        {
            value = parsed;
            return true;
        }

        return false;
    }

    public static bool TryCount(IReadOnlyDictionary<string, string>? metadata, string key, int fallback, int min, int max, out int value)
    {
        value = fallback;
        if (metadata is null || !metadata.TryGetValue(key, out var text))
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max)
        {
            value = parsed;
            return true;
        }

        return false;
    }
}
