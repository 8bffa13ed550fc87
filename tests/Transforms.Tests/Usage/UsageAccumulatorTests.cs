using System.Buffers;
using System.Text;
using InferenceSidecar.Usage;

namespace InferenceSidecar.Transforms.Tests.Usage;

public sealed class UsageAccumulatorTests
{
    private const string OpenAIStreamWithUsage =
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello \"},\"finish_reason\":null}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"world\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14}}\n\n" +
        "data: [DONE]\n\n";

    private const string OpenAIStreamAsClientAskedIt =
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello \"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"world\"},\"finish_reason\":\"stop\"}]}\n\n" +
        "data: [DONE]\n\n";

    private const string AnthropicStream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":20,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi there\"}}\n\n" +
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    /// <summary>Feeds <paramref name="text"/> in pieces of <paramref name="piece"/> bytes and returns what would reach the client.</summary>
    private static string Feed(UsageAccumulator usage, string text, int piece)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var client = new ArrayBufferWriter<byte>();
        for (var i = 0; i < bytes.Length; i += piece)
        {
            var chunk = bytes.AsSpan(i, Math.Min(piece, bytes.Length - i));
            var forward = new ArrayBufferWriter<byte>();
            if (!usage.Observe(chunk, forward))
            {
                client.Write(chunk);
            }
            else
            {
                client.Write(forward.WrittenSpan);
            }
        }

        usage.EndOfStream(client);
        usage.Complete();
        return Encoding.UTF8.GetString(client.WrittenSpan);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Observe_OpenAIStreamWithInjectedUsage_ReadsUsageAndClientSeesStreamWithoutIt(int piece)
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: true);

        var client = Feed(usage, OpenAIStreamWithUsage, piece);

        Assert.Equal(OpenAIStreamAsClientAskedIt, client);
        Assert.True(usage.HasFinalUsage);
        Assert.Equal(12, usage.InputTokens);
        Assert.Equal(2, usage.OutputTokens);
        Assert.True(usage.SawEnd);
    }

    [Theory]
    [InlineData("\r\n", 1)]
    [InlineData("\r\n", 4096)]
    [InlineData("\r", 1)]
    [InlineData("\r", 13)]
    public void Observe_CrlfOrCrFramedStreamWithComments_ReadsUsageAndStripsLikeLf(string eol, int piece)
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: true);
        var stream = (": keep-alive\n\n" + OpenAIStreamWithUsage).Replace("\n", eol, StringComparison.Ordinal);

        var client = Feed(usage, stream, piece);

        Assert.Equal((": keep-alive\n\n" + OpenAIStreamAsClientAskedIt).Replace("\n", eol, StringComparison.Ordinal), client);
        Assert.Equal(12, usage.InputTokens);
        Assert.Equal(2, usage.OutputTokens);
        Assert.True(usage.SawEnd);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EndOfStream_LastEventWithoutEmptyLine_StillReadAndForwarded(bool strip)
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: strip);
        var stream = OpenAIStreamAsClientAskedIt[..^2]; // "data: [DONE]" with no closing empty line

        var client = Feed(usage, stream, 9);

        Assert.Equal(stream, client);
        Assert.True(usage.SawEnd);
        Assert.Equal(Encoding.UTF8.GetByteCount("Hello world"), usage.StreamedTextBytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public void Observe_StreamWithSpacedUsageNull_ClientSeesStreamWithoutIt(int piece)
    {
        // Arrange: an upstream that writes JSON with spaces (Python's json.dumps style), usage first in one chunk.
        const string spaced =
            "data: {\"id\": \"c\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"say \\\"usage\\\": null\"}}], \"usage\": null}\n\n" +
            "data: {\"usage\" : null , \"id\": \"c\", \"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"stop\"}]}\n\n" +
            "data: {\"id\": \"c\", \"choices\": [], \"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 2, \"total_tokens\": 5}}\n\n" +
            "data: [DONE]\n\n";
        const string expected =
            "data: {\"id\": \"c\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"say \\\"usage\\\": null\"}}]}\n\n" +
            "data: {\"id\": \"c\", \"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"stop\"}]}\n\n" +
            "data: [DONE]\n\n";
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: true);

        // Act
        var client = Feed(usage, spaced, piece);

        // Assert
        Assert.Equal(expected, client);
        Assert.Equal(3, usage.InputTokens);
        Assert.Equal(2, usage.OutputTokens);
    }

    [Fact]
    public void Observe_OpenAIStreamClientAskedForUsage_PassedThroughUntouched()
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: false);

        var client = Feed(usage, OpenAIStreamWithUsage, 13);

        Assert.Equal(OpenAIStreamWithUsage, client);
        Assert.Equal(14, usage.InputTokens + usage.OutputTokens);
    }

    [Fact]
    public void Observe_AnthropicStream_InputIncludesCacheTokensAndOutputFromMessageDelta()
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: false);

        Feed(usage, AnthropicStream, 11);

        Assert.True(usage.HasFinalUsage);
        Assert.Equal(125, usage.InputTokens);
        Assert.Equal(9, usage.OutputTokens);
        Assert.Equal(8, usage.StreamedTextBytes);
        Assert.True(usage.SawEnd);
    }

    [Fact]
    public void Observe_StreamCutBeforeUsage_NoFinalUsageButStreamedTextCounted()
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: false);
        var cut = AnthropicStream[..AnthropicStream.IndexOf("event: message_delta", StringComparison.Ordinal)];

        Feed(usage, cut, 5);

        Assert.False(usage.HasFinalUsage);
        Assert.Equal(125, usage.InputTokens);
        Assert.Equal(8, usage.StreamedTextBytes);
        Assert.False(usage.SawEnd);
    }

    [Theory]
    [InlineData("{\"id\":\"x\",\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":4,\"total_tokens\":34}}", 30, 4)]
    [InlineData("{\"type\":\"message\",\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":7,\"output_tokens\":2}}", 10, 2)]
    public void Complete_JsonBody_ReadsTopLevelUsage(string body, long input, long output)
    {
        var usage = new UsageAccumulator(isSse: false, stripInjectedUsage: true);

        var client = Feed(usage, body, 3);

        Assert.Equal(body, client);
        Assert.True(usage.HasFinalUsage);
        Assert.Equal(input, usage.InputTokens);
        Assert.Equal(output, usage.OutputTokens);
    }
}
