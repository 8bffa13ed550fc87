namespace InferenceSidecar.Analytics;

/// <summary>A usage report's filter: inclusive UTC days, and optionally one user and one model.</summary>
internal sealed record UsageQuery(DateOnly From, DateOnly To, string? User, string? Model)
{
    public const string DayFormat = "yyyy-MM-dd";

    public IEnumerable<string> Days()
    {
        for (var day = From; day <= To; day = day.AddDays(1))
        {
            yield return day.ToString(DayFormat, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public bool Matches(UsageKey key) =>
        (User is null || key.User == User)
        && (Model is null || key.Model == Model)
        && string.CompareOrdinal(key.Day, From.ToString(DayFormat, System.Globalization.CultureInfo.InvariantCulture)) >= 0
        && string.CompareOrdinal(key.Day, To.ToString(DayFormat, System.Globalization.CultureInfo.InvariantCulture)) <= 0;
}
