using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Prometheus;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Reads samples out of a Prometheus text exposition (enough of the format to assert on values).</summary>
internal static partial class PrometheusText
{
    /// <summary>A registry's exposition, exactly as <c>/metrics</c> serves it (text format 0.0.4).</summary>
    public static string Of(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Every sample as (name, labels, value).</summary>
    public static List<(string Name, Dictionary<string, string> Labels, double Value)> Samples(string text)
    {
        var samples = new List<(string, Dictionary<string, string>, double)>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var match = SampleLine().Match(line);
            if (!match.Success)
            {
                throw new FormatException("Not a sample line: " + line);
            }

            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups["name"].Value, m => Regex.Unescape(m.Groups["value"].Value));
            var raw = match.Groups["value"].Value;
            var value = raw == "+Inf" ? double.PositiveInfinity : double.Parse(raw, CultureInfo.InvariantCulture);
            samples.Add((match.Groups["name"].Value, labels, value));
        }

        return samples;
    }

    /// <summary>The sum of one metric's samples whose labels include every pair given.</summary>
    public static double Sum(string text, string name, params (string Label, string Value)[] labels) =>
        Samples(text).Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(?<name>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(\\.|[^"\\])*)",?""")]
    private static partial Regex LabelPair();
}
