using System.Text.RegularExpressions;

namespace InferenceSidecar.Transforms.Redaction;

/// <summary>
/// Replaces every finding in a text with <c>[REDACTED:&lt;type&gt;]</c>. Idempotent: the marker matches no detector, so
/// redacting twice changes nothing more. Detectors that time out on a pathological input count as a finding of their
/// own type (fail closed: the text is replaced), never as a pass.
/// </summary>
internal sealed class Redactor(IReadOnlyList<Detector> detectors)
{
    public IReadOnlyList<Detector> Detectors { get; } = detectors;

    /// <summary>The redacted text, or null when nothing was found. Finding types are added to <paramref name="findings"/>.</summary>
    public string? Redact(string text, List<string> findings)
    {
        // Short strings hold no secret; base64 data URLs (images, files) are payloads, not prose.
        if (text.Length < 8 || (text.StartsWith("data:", StringComparison.Ordinal) && text.Contains(";base64,", StringComparison.Ordinal)))
        {
            return null;
        }

        string? result = null;
        foreach (var detector in Detectors)
        {
            var current = result ?? text;
            try
            {
                var replaced = detector.Pattern.Replace(current, match => Replace(match, detector, findings));
                if (!ReferenceEquals(replaced, current) && replaced != current)
                {
                    result = replaced;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                findings.Add(detector.Name);
                return $"[REDACTED:{detector.Name}]";
            }
        }

        return result;
    }

    /// <summary>Where the secrets are in a text (non-overlapping, in order), for callers that must map findings back.</summary>
    public List<(int Start, int Length, string Type)> Find(string text)
    {
        var spans = new List<(int Start, int Length, string Type)>();
        foreach (var detector in Detectors)
        {
            try
            {
                foreach (Match match in detector.Pattern.Matches(text))
                {
                    var secret = match.Groups.Count > 1 && match.Groups[1].Success ? match.Groups[1] : (Group)match;
                    if (detector.IsReal is null || detector.IsReal(secret.Value))
                    {
                        spans.Add((secret.Index, secret.Length, detector.Name));
                    }
                }
            }
            catch (RegexMatchTimeoutException)
            {
                spans.Add((0, text.Length, detector.Name));
            }
        }

        spans.Sort((a, b) => a.Start.CompareTo(b.Start));
        var merged = new List<(int Start, int Length, string Type)>();
        foreach (var span in spans)
        {
            if (merged.Count > 0 && span.Start < merged[^1].Start + merged[^1].Length)
            {
                continue;
            }

            merged.Add(span);
        }

        return merged;
    }

    private static string Replace(Match match, Detector detector, List<string> findings)
    {
        var secret = match.Groups.Count > 1 && match.Groups[1].Success ? match.Groups[1] : (Group)match;
        if (detector.IsReal is { } check && !check(secret.Value))
        {
            return match.Value;
        }

        findings.Add(detector.Name);
        var marker = $"[REDACTED:{detector.Name}]";
        return ReferenceEquals(secret, match)
            ? marker
            : string.Concat(match.Value.AsSpan(0, secret.Index - match.Index), marker, match.Value.AsSpan(secret.Index - match.Index + secret.Length));
    }
}
