using System.Text;
using System.Text.RegularExpressions;

namespace InferenceSidecar.Transforms.Redaction;

/// <summary>
/// Finds secrets in a text and replaces each with <c>[REDACTED:&lt;type&gt;]</c>. Idempotent: the marker matches no
/// detector. A candidate that fails its check (Luhn, JWT header, IBAN digits) does not hide a real secret right after
/// it: the scan resumes one character later. A detector that times out on a pathological input fails closed (the whole
/// text counts as a finding), never open.
/// </summary>
internal sealed class Redactor(IReadOnlyList<Detector> detectors)
{
    public IReadOnlyList<Detector> Detectors { get; } = detectors;

    /// <summary>The redacted text, or null when nothing was found. Finding types are added to <paramref name="findings"/>.</summary>
    public string? Redact(string text, List<string> findings)
    {
        var spans = Find(text);
        if (spans.Count == 0)
        {
            return null;
        }

        var result = new StringBuilder(text.Length);
        var at = 0;
        foreach (var (start, length, type) in spans)
        {
            findings.Add(type);
            result.Append(text, at, start - at).Append("[REDACTED:").Append(type).Append(']');
            at = start + length;
        }

        return result.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>
    /// False when <see cref="Find"/> would surely find nothing in <paramref name="text"/>: no detector matches anywhere.
    /// Works on a span, so a clean text (almost every prompt) is checked without becoming a string, and a large one
    /// never lands on the large-object heap. True on a timeout (fails closed, like <see cref="Find"/>).
    /// </summary>
    public bool MayContain(ReadOnlySpan<char> text)
    {
        if (Skipped(text))
        {
            return false;
        }

        foreach (var detector in Detectors)
        {
            try
            {
                if (detector.Pattern.IsMatch(text))
                {
                    return true;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Where the secrets are in a text (non-overlapping, in order).</summary>
    public List<(int Start, int Length, string Type)> Find(string text)
    {
        var spans = new List<(int Start, int Length, string Type, int Order)>();
        if (Skipped(text))
        {
            return [];
        }

        for (var order = 0; order < Detectors.Count; order++)
        {
            var detector = Detectors[order];
            try
            {
                var at = 0;
                while (at <= text.Length && detector.Pattern.Match(text, at) is { Success: true } match)
                {
                    var secret = match.Groups.Count > 1 && match.Groups[1].Success ? match.Groups[1] : (Group)match;
                    if (detector.IsReal is null || detector.IsReal(secret.Value))
                    {
                        spans.Add((secret.Index, secret.Length, detector.Name, order));
                        at = match.Index + Math.Max(1, match.Length);
                    }
                    else
                    {
                        at = match.Index + 1;
                    }
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return [(0, text.Length, detector.Name)];
            }
        }

        // Earliest start wins; at the same start, the earlier detector (secrets come before personal data).
        spans.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Order.CompareTo(b.Order));
        var merged = new List<(int Start, int Length, string Type)>(spans.Count);
        foreach (var span in spans)
        {
            if (merged.Count == 0 || span.Start >= merged[^1].Start + merged[^1].Length)
            {
                merged.Add((span.Start, span.Length, span.Type));
            }
        }

        return merged;
    }

    /// <summary>Short strings hold no secret; base64 data URLs (images, files) are payloads, not prose.</summary>
    private static bool Skipped(ReadOnlySpan<char> text) =>
        text.Length < 8 || (text.StartsWith("data:", StringComparison.Ordinal) && text.Contains(";base64,", StringComparison.Ordinal));
}
