using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace InferenceSidecar.Redaction;

/// <summary>
/// Finds secrets in a text and replaces each with <c>[REDACTED:&lt;type&gt;]</c>. Idempotent: the marker matches no
/// detector. A candidate that fails its check (Luhn, JWT header, IBAN digits) does not hide a real secret right after
/// it: the scan resumes one character later. A detector that times out on a pathological input fails closed (the whole
/// text counts as a finding), never open.
/// Fast path: one vectorized pre-scan for every anchored detector's literals (and one for digits) decides which
/// detectors can match at all; each of those runs its regex only from its anchors on, and a bounded one only in a window
/// around each anchor (see <see cref="Anchor"/>). The result is exactly the regexes' result over the whole text.
/// </summary>
internal sealed class Redactor
{
    private static readonly SearchValues<char> AsciiNonDigits = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 128).Select(c => (char)c).Where(c => !char.IsAsciiDigit(c))));

    private const int MaxWindow = 4096;

    private readonly SearchValues<string> _anyWord;
    private readonly SearchValues<char> _anyChar;

    public Redactor(IReadOnlyList<Detector> detectors)
    {
        Detectors = detectors;
        // One-character anchors ('@') go to a char search: among the words they would slow the multi-string search.
        var words = detectors.SelectMany(d => d.Anchor?.Words ?? []).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        _anyWord = SearchValues.Create(words.Where(w => w.Length > 1).ToArray(), StringComparison.OrdinalIgnoreCase);
        _anyChar = SearchValues.Create(string.Concat(words.Where(w => w.Length == 1).SelectMany(w => new[] { char.ToLowerInvariant(w[0]), char.ToUpperInvariant(w[0]) })));
    }

    public IReadOnlyList<Detector> Detectors { get; }

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

        bool? words = null, digits = null;
        foreach (var detector in Detectors)
        {
            try
            {
                if (detector.Anchor is not { } anchor)
                {
                    if (detector.Pattern.IsMatch(text))
                    {
                        return true;
                    }

                    continue;
                }

                // One pass finds whether any literal anchor occurs, one whether any digit does; only then does a
                // detector look for its own anchors.
                var possible = anchor.Literals is not null
                    ? words ??= text.IndexOfAny(_anyWord) >= 0 || text.IndexOfAny(_anyChar) >= 0
                    : digits ??= text.IndexOfAnyExcept(AsciiNonDigits) >= 0;
                if (possible && NextMatch(detector.Pattern, anchor, text, 0, out _))
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
                while (at <= text.Length && Next(detector, text, at) is { Success: true } match)
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

    /// <summary>The leftmost match at or after <paramref name="at"/>, as <c>Pattern.Match(text, at)</c> gives it.</summary>
    private static Match Next(Detector detector, string text, int at)
    {
        if (detector.Anchor is not { } anchor)
        {
            return detector.Pattern.Match(text, at);
        }

        if (anchor.Span == 0)
        {
            // Every match starts at an anchor: the first anchor from here on is where the regex starts looking.
            var first = anchor.Next(text, at);
            return first < 0 ? Match.Empty : detector.Pattern.Match(text, first);
        }

        // Found in a window; matched again at its start in the whole text for its groups (a match is there).
        return NextMatch(detector.Pattern, anchor, text, at, out var index) ? detector.Pattern.Match(text, index) : Match.Empty;
    }

    /// <summary>
    /// Where the leftmost match at or after <paramref name="at"/> starts, looking only near anchors. A match holds an
    /// anchor at most <c>Lead</c> in, so none starts before the first anchor's window; a match that starts by the (last
    /// merged) anchor ends by <c>anchor + Span</c>, so the text cut two characters later finds it as the whole text does,
    /// and any match the cut text finds starting by that anchor is a real one.
    /// </summary>
    private static bool NextMatch(Regex pattern, Anchor anchor, ReadOnlySpan<char> text, int at, out int index)
    {
        var from = at;
        while (true)
        {
            var found = anchor.Next(text, from);
            if (found < 0)
            {
                index = -1;
                return false;
            }

            if (anchor.Span == 0)
            {
                foreach (var match in pattern.EnumerateMatches(text, found))
                {
                    index = match.Index;
                    return true;
                }

                index = -1;
                return false;
            }

            // Anchors that follow closely share one window (searched once, not once per anchor), up to a bound so
            // that a text dense with anchors is not searched again from afar after every match.
            var last = found;
            while (last - found < MaxWindow && anchor.Next(text, last + 1) is var next && next >= 0 && next - anchor.Lead <= last + anchor.Span)
            {
                last = next;
            }

            var end = Math.Min(text.Length, last + anchor.Span + 2);
            foreach (var match in pattern.EnumerateMatches(text[..end], Math.Max(from, found - anchor.Lead)))
            {
                if (match.Index <= last || end == text.Length)
                {
                    index = match.Index;
                    return true;
                }

                break;
            }

            found = last;
            from = found + 1;
        }
    }

    /// <summary>Short strings hold no secret; base64 data URLs (images, files) are payloads, not prose.</summary>
    private static bool Skipped(ReadOnlySpan<char> text) =>
        text.Length < 8 || (text.StartsWith("data:", StringComparison.Ordinal) && text.Contains(";base64,", StringComparison.Ordinal));
}
