using System.Text;
using System.Text.Json;
using InferenceSidecar.Testing;
using InferenceSidecar.Redaction;

namespace InferenceSidecar.Transforms.Tests.Redaction;

public sealed class SseRedactingStreamTests
{
    private static readonly Redactor Secrets = new(DetectorCatalog.Secrets);
    private static readonly string Key = SecretCorpus.Positives[0].Secret;

    private static string Chunk(string content) =>
        "data: " + JsonSerializer.Serialize(new { choices = new[] { new { index = 0, delta = new { content } } } });

    private static async Task<string> RunAsync(string body, int piece, bool complete = true)
    {
        using var client = new MemoryStream();
        var stream = new SseRedactingStream(client, Secrets, null);
        var bytes = Encoding.UTF8.GetBytes(body);
        for (var i = 0; i < bytes.Length; i += piece)
        {
            await stream.WriteAsync(bytes.AsMemory(i, Math.Min(piece, bytes.Length - i)));
        }

        if (complete)
        {
            await stream.CompleteAsync(CancellationToken.None);
        }

        return Encoding.UTF8.GetString(client.ToArray());
    }

    private static string Text(string sse) => string.Concat(sse.Split('\n', '\r')
        .Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
        .Select(l => JsonDocument.Parse(l[6..]).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));

    [Theory]
    [InlineData("\n", 1)]
    [InlineData("\n", 4096)]
    [InlineData("\r\n", 1)]
    [InlineData("\r\n", 7)]
    [InlineData("\r", 1)]
    [InlineData("\r", 4096)]
    public async Task WriteAsync_SecretSplitAcrossEventsWithEachLineEnd_RedactedAndFramingKept(string eol, int piece)
    {
        var body = ": comment" + eol + eol
            + Chunk("key: " + Key[..15]) + eol + eol
            + ": comment" + eol + Chunk(Key[15..] + " done") + eol + eol
            + "data: [DONE]" + eol + eol;

        var sse = await RunAsync(body, piece);

        Assert.DoesNotContain(Key[..15], sse, StringComparison.Ordinal);
        Assert.Equal("key: [REDACTED:openai_key] done", Text(sse));
        Assert.StartsWith(": comment" + eol + eol, sse, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]" + eol + eol, sse, StringComparison.Ordinal);
        Assert.DoesNotContain(eol == "\n" ? "\r" : "\n\n\n", sse, StringComparison.Ordinal); // no line end of another kind appears
    }

    [Fact]
    public async Task WriteAsync_StreamEndsOnHeldText_NothingLeavesBeforeCompleteThenAllRedacted()
    {
        var body = Chunk("The key: " + Key) + "\n\n" + "data: [DONE]";

        var beforeComplete = await RunAsync(body, 5, complete: false);
        var sse = await RunAsync(body, 5);

        Assert.Equal(string.Empty, beforeComplete); // held: the key may go on in a next event
        Assert.Equal("The key: [REDACTED:openai_key]", Text(sse));
        Assert.EndsWith("\n\ndata: [DONE]", sse, StringComparison.Ordinal);
    }
}
