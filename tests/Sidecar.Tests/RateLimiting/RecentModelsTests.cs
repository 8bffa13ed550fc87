using InferenceSidecar.RateLimiting;
using Xunit;

namespace InferenceSidecar.Tests.RateLimiting;

public sealed class RecentModelsTests
{
    [Fact]
    public void Add_SamePairAgain_ListedOnce()
    {
        var recent = new RecentModels();
        recent.Add("alice", "gpt-4o");
        recent.Add("alice", "gpt-4o");
        recent.Add("alice", "gpt-4o-mini");
        recent.Add("alice", null);

        Assert.Equal(["gpt-4o", "gpt-4o-mini"], recent.For("alice").Order(StringComparer.Ordinal));
        Assert.Empty(recent.For("bob"));
    }

    [Fact]
    public void Add_ManyModelsAndUsers_StaysBounded()
    {
        var recent = new RecentModels();
        for (var i = 0; i < 100; i++)
        {
            recent.Add("alice", "model-" + i);
        }

        for (var i = 0; i < 10_050; i++)
        {
            recent.Add("user-" + i, "gpt-4o");
        }

        Assert.Equal(32, recent.For("alice").Count());
        Assert.Contains("gpt-4o", recent.For("user-9998")); // 1 + 9,999 users: the bound (10,000) is reached here
        Assert.Empty(recent.For("user-9999"));
        Assert.Empty(recent.For("user-10049"));
        recent.Add("alice", "model-0"); // known pairs are still found
        Assert.Contains("model-0", recent.For("alice"));
    }
}
