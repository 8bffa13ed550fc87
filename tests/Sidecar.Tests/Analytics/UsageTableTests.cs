using InferenceSidecar.Analytics;

namespace InferenceSidecar.Tests.Analytics;

public sealed class UsageTableTests
{
    [Fact]
    public void Add_PastMaxRows_NewUsersCountUnderOtherAndTotalsStayRight()
    {
        var table = new UsageTable(maxRows: 2);

        table.Add(new UsageKey("2026-11-23", "a", "m"), new UsageEvent(1, 10, 5, 1.5, 0, 0));
        table.Add(new UsageKey("2026-11-23", "b", "m"), new UsageEvent(1, 20, 5, 1.5, 0, 0));
        table.Add(new UsageKey("2026-11-23", "c", "m"), new UsageEvent(1, 30, 5, 1.5, 0, 0));
        table.Add(new UsageKey("2026-11-23", "a", "m"), new UsageEvent(1, 1, 1, 0, 1, 2));

        var rows = table.Rows().ToDictionary(r => r.Key.User, r => r.Usage);
        Assert.Equal(3, rows.Count);
        Assert.Equal(30, rows[UsageTable.OverflowUser].InputTokens);
        Assert.Equal(new UsageEvent(2, 11, 6, 1.5, 1, 2), rows["a"]);
        Assert.Equal(61, rows.Values.Sum(r => r.InputTokens));
    }

    [Fact]
    public void PruneBefore_OlderDays_Removed()
    {
        var table = new UsageTable(100);
        table.Add(new UsageKey("2026-10-01", "a", "m"), new UsageEvent(1, 1, 1, 0, 0, 0));
        table.Add(new UsageKey("2026-11-23", "a", "m"), new UsageEvent(1, 1, 1, 0, 0, 0));

        table.PruneBefore("2026-11-01");

        Assert.Equal("2026-11-23", Assert.Single(table.Rows()).Key.Day);
    }

    [Fact]
    public void Matches_UserModelAndDayRange_FiltersInclusively()
    {
        var query = new UsageQuery(new DateOnly(2026, 11, 1), new DateOnly(2026, 11, 3), "a", null);

        Assert.True(query.Matches(new UsageKey("2026-11-01", "a", "x")));
        Assert.True(query.Matches(new UsageKey("2026-11-03", "a", "y")));
        Assert.False(query.Matches(new UsageKey("2026-11-04", "a", "x")));
        Assert.False(query.Matches(new UsageKey("2026-11-02", "b", "x")));
        Assert.Equal(3, query.Days().Count());
    }
}
