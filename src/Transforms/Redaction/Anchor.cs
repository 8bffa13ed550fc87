using System.Buffers;

namespace InferenceSidecar.Redaction;

/// <summary>
/// What every match of a detector must contain, found by a vectorized scan so that the detector's regex runs only near
/// a hit (the keyword prefilter of gitleaks and TruffleHog). Exactness rests on two facts a built-in detector states here:
/// every match holds an anchor at most <c>Lead</c> characters after its start, and (for a windowed anchor) no match
/// is longer than <c>Span</c> characters, with at most one character of look-around on either side. Then no match
/// starts where no anchor is near, and a match near an anchor is found identically in the text cut
/// <c>Span</c> + 2 characters after the anchor. A detector without an anchor (a user's pattern) runs over the
/// whole text as before.
/// </summary>
/// <summary>Whether the anchor at <paramref name="at"/> in <paramref name="text"/> can be part of a match.</summary>
internal delegate bool AnchorCheck(ReadOnlySpan<char> text, int at);

internal sealed class Anchor
{
    private static readonly SearchValues<char> AsciiNonDigits = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 128).Select(c => (char)c).Where(c => !char.IsAsciiDigit(c))));

    private Anchor(SearchValues<string>? literals, string[] words, int minRun, int lead, int span, int minDigits, int lettersBefore = 0, AnchorCheck? check = null)
    {
        Check = check;
        Literals = literals;
        Words = words;
        MinRun = minRun;
        Lead = lead;
        Span = span;
        MinDigits = minDigits;
        LettersBefore = lettersBefore;
    }

    /// <summary>The literal(s) one of which every match contains; null for a digit-run anchor.</summary>
    public SearchValues<string>? Literals { get; }

    /// <summary>The literals as strings (for the combined pre-scan of all detectors).</summary>
    public string[] Words { get; }

    /// <summary>For a digit-run anchor: the shortest run (of digits, as <c>\d</c> means them) whose start is an anchor.</summary>
    public int MinRun { get; }

    /// <summary>The most characters between a match's start and the first anchor in it.</summary>
    public int Lead { get; }

    /// <summary>The longest match (windowed anchor), or 0: unbounded, the match starts at its anchor (lead 0) and the regex runs on from there.</summary>
    public int Span { get; }

    /// <summary>The fewest digits any match has (a digit-run anchor's window without as many is skipped).</summary>
    public int MinDigits { get; }

    /// <summary>For a digit-run anchor: how many ASCII capital letters every match has right before the run.</summary>
    public int LettersBefore { get; }

    /// <summary>A cheap test every anchor that a match holds passes (e.g. what must follow it); others are skipped.</summary>
    public AnchorCheck? Check { get; }

    /// <summary>Matches start at one of <paramref name="words"/> (ASCII, compared ignoring case) and may run on without bound.</summary>
    public static Anchor StartsWith(params string[] words) => new(SearchValues.Create(words, StringComparison.OrdinalIgnoreCase), words, 0, 0, 0, 0);

    /// <summary>Matches hold one of <paramref name="words"/> at most <paramref name="lead"/> characters in and are at most <paramref name="span"/> long.</summary>
    public static Anchor Contains(int lead, int span, params string[] words) => new(SearchValues.Create(words, StringComparison.OrdinalIgnoreCase), words, 0, lead, span, 0);

    /// <summary>As <see cref="Contains(int, int, string[])"/>, keeping only the anchors that pass <paramref name="check"/>.</summary>
    public static Anchor Contains(int lead, int span, AnchorCheck check, params string[] words) => new(SearchValues.Create(words, StringComparison.OrdinalIgnoreCase), words, 0, lead, span, 0, 0, check);

    /// <summary>Matches hold the start of a run of at least <paramref name="minRun"/> digits at most <paramref name="lead"/> characters in.</summary>
    public static Anchor DigitRun(int minRun, int lead, int span, int minDigits, int lettersBefore = 0) => new(null, [], minRun, lead, span, minDigits, lettersBefore);

    /// <summary>The first anchor at or after <paramref name="from"/>, or -1.</summary>
    public int Next(ReadOnlySpan<char> text, int from)
    {
        if (Literals is { } literals)
        {
            while (true)
            {
                var at = text[from..].IndexOfAny(literals);
                if (at < 0)
                {
                    return -1;
                }

                if (Check is null || Check(text, from + at))
                {
                    return from + at;
                }

                from += at + 1;
            }
        }

        while (from < text.Length)
        {
            // \d is any Unicode decimal digit: stop at ASCII digits and at any non-ASCII character (rare in most
            // prompts), then look closer.
            var hit = text[from..].IndexOfAnyExcept(AsciiNonDigits);
            if (hit < 0)
            {
                return -1;
            }

            var start = from + hit;
            if (!char.IsDigit(text[start]))
            {
                from = start + 1;
                continue;
            }

            var end = start + 1;
            while (end < text.Length && char.IsDigit(text[end]))
            {
                end++;
            }

            if ((start == 0 || !char.IsDigit(text[start - 1])) && end - start >= MinRun && LettersAhead(text, start) && EnoughDigits(text, start))
            {
                return start;
            }

            from = end;
        }

        return -1;
    }

    private bool LettersAhead(ReadOnlySpan<char> text, int anchor)
    {
        if (anchor < LettersBefore)
        {
            return false;
        }

        foreach (var c in text[(anchor - LettersBefore)..anchor])
        {
            if (!char.IsAsciiLetterUpper(c))
            {
                return false;
            }
        }

        return true;
    }

    private bool EnoughDigits(ReadOnlySpan<char> text, int anchor)
    {
        if (MinDigits == 0)
        {
            return true;
        }

        var from = Math.Max(0, anchor - Lead);
        var window = text[from..Math.Min(text.Length, anchor + Span)];
        var count = 0;
        foreach (var c in window)
        {
            if (char.IsDigit(c) && ++count >= MinDigits)
            {
                return true;
            }
        }

        return false;
    }
}
