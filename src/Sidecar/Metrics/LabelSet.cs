namespace InferenceSidecar.Metrics;

/// <summary>Up to four label name/value pairs in the order the instrument call gave them: a series' key with no allocation.</summary>
internal readonly record struct LabelSet(string? N0, string? V0, string? N1, string? V1, string? N2, string? V2, string? N3, string? V3)
{
    public const int Max = 4;

    public static LabelSet From(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length > Max)
        {
            throw new InvalidOperationException($"A sidecar metric carries at most {Max} labels.");
        }

        return new LabelSet(
            tags.Length > 0 ? tags[0].Key : null, tags.Length > 0 ? Value(tags[0]) : null,
            tags.Length > 1 ? tags[1].Key : null, tags.Length > 1 ? Value(tags[1]) : null,
            tags.Length > 2 ? tags[2].Key : null, tags.Length > 2 ? Value(tags[2]) : null,
            tags.Length > 3 ? tags[3].Key : null, tags.Length > 3 ? Value(tags[3]) : null);
    }

    public IEnumerable<(string Name, string Value)> Pairs()
    {
        if (N0 is not null)
        {
            yield return (N0, V0 ?? string.Empty);
        }

        if (N1 is not null)
        {
            yield return (N1, V1 ?? string.Empty);
        }

        if (N2 is not null)
        {
            yield return (N2, V2 ?? string.Empty);
        }

        if (N3 is not null)
        {
            yield return (N3, V3 ?? string.Empty);
        }
    }

    private static string Value(KeyValuePair<string, object?> tag) =>
        tag.Value as string ?? Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
}
