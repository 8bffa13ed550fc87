using System.Text;
using InferenceSidecar.Streaming;

namespace InferenceSidecar.Transforms.Tests.Streaming;

public sealed class SseFramerTests
{
    private static (int Length, int Content)? Find(string text, bool final = false) =>
        SseFramer.TryFindEvent(Encoding.UTF8.GetBytes(text), final, out var length, out var content) ? (length, content) : null;

    [Theory]
    [InlineData("data: a\n\nrest", 9, 8)]
    [InlineData("data: a\r\n\r\nrest", 11, 9)]
    [InlineData("data: a\r\rrest", 9, 8)]
    [InlineData("data: a\r\n\nrest", 10, 9)]
    [InlineData("data: a\n\r\nrest", 10, 8)]
    [InlineData(": comment\ndata: a\n\n", 19, 18)]
    [InlineData(": only a comment\n\n", 18, 17)]
    [InlineData("\ndata: a\n\n", 1, 0)]
    public void TryFindEvent_EachLineEnd_FindsTheEventThroughItsEmptyLine(string text, int length, int content)
    {
        Assert.Equal((length, content), Find(text));
    }

    [Theory]
    [InlineData("data: a")]
    [InlineData("data: a\n")]
    [InlineData("data: a\r\n")]
    [InlineData("data: a\r\n\r")] // the last CR may be the first half of a CRLF
    [InlineData("data: a\r")]
    public void TryFindEvent_Incomplete_NotFoundYet(string text)
    {
        Assert.Null(Find(text));
    }

    [Fact]
    public void TryFindEvent_TrailingCrAtEndOfStream_EndsTheEvent()
    {
        Assert.Equal((10, 9), Find("data: a\r\n\r", final: true));
    }

    [Fact]
    public void NextLine_MixedLineEnds_SplitsEachLine()
    {
        ReadOnlySpan<byte> data = "a\r\nb\rc\nd"u8;
        var lines = new List<string>();
        while (SseFramer.NextLine(ref data, out var line))
        {
            lines.Add(Encoding.UTF8.GetString(line));
        }

        Assert.Equal(["a", "b", "c", "d"], lines);
    }

    [Fact]
    public void NextLine_Chars_KeepsEachLineEnd()
    {
        var data = "a\r\nb\rc\nd".AsSpan();
        var rebuilt = new StringBuilder();
        while (SseFramer.NextLine(ref data, out var line, out var ending))
        {
            rebuilt.Append('[').Append(line).Append(']').Append(ending);
        }

        Assert.Equal("[a]\r\n[b]\r[c]\n[d]", rebuilt.ToString());
    }

    [Theory]
    [InlineData("data: {}", "{}")]
    [InlineData("data:{}", "{}")]
    [InlineData(": data: no", null)]
    [InlineData("event: x", null)]
    public void TryData_Lines_PayloadOfDataLinesOnly(string line, string? payload)
    {
        var found = SseFramer.TryData(Encoding.UTF8.GetBytes(line), out var bytes);

        Assert.Equal(payload, found ? Encoding.UTF8.GetString(bytes) : null);
    }
}
