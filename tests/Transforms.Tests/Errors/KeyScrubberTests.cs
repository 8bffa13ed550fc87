using System.Text;
using InferenceSidecar.Errors;

namespace InferenceSidecar.Transforms.Tests.Errors;

public sealed class KeyScrubberTests
{
    private const string Key = "sk-proj-a/b_c-123";

    [Theory]
    [InlineData("key sk-proj-a/b_c-123 end", "key [REDACTED:provider_key] end")]
    [InlineData("key sk\\u002dproj\\u002Da\\/b_c-123 end", "key [REDACTED:provider_key] end")]
    [InlineData("sk%2Dproj-a%2fb_c-123", "[REDACTED:provider_key]")]
    [InlineData("\\u0073k-proj-a/b_c-123sk-proj-a/b_c-123", "[REDACTED:provider_key][REDACTED:provider_key]")]
    [InlineData("sk-proj-a/b_c-12 almost", null)]
    [InlineData("sk\\u002eproj-a/b_c-123", null)]
    [InlineData("sk\\u002", null)]
    [InlineData("%", null)]
    [InlineData("", null)]
    public void Scrub_KeyInAnyEncoding_ReplacedWithMarker(string input, string? expected)
    {
        var scrubbed = KeyScrubber.Scrub(Encoding.UTF8.GetBytes(input), Key);

        Assert.Equal(expected, scrubbed is null ? null : Encoding.UTF8.GetString(scrubbed));
    }

    [Fact]
    public void Scrub_HeaderValue_OnlyWhenKeyOccurs()
    {
        Assert.Equal("Bearer [REDACTED:provider_key]", KeyScrubber.Scrub("Bearer " + Key, Key));
        Assert.Null(KeyScrubber.Scrub("text/event-stream; charset=utf-8", Key));
    }
}
