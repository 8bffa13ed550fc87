using System.Buffers;
using System.Text;
using InferenceSidecar.Usage;

namespace InferenceSidecar.Transforms.Tests.Usage;

/// <summary>The cached part of the input, as each provider reports it, in JSON bodies and SSE streams.</summary>
public sealed class CachedInputUsageTests
{
    private static UsageAccumulator Json(string body)
    {
        var usage = new UsageAccumulator(isSse: false, stripInjectedUsage: false);
        usage.Observe(Encoding.UTF8.GetBytes(body), new ArrayBufferWriter<byte>());
        usage.Complete();
        return usage;
    }

    private static UsageAccumulator Sse(string stream, int piece = 7)
    {
        var usage = new UsageAccumulator(isSse: true, stripInjectedUsage: false);
        var bytes = Encoding.UTF8.GetBytes(stream);
        for (var i = 0; i < bytes.Length; i += piece)
        {
            usage.Observe(bytes.AsSpan(i, Math.Min(piece, bytes.Length - i)), new ArrayBufferWriter<byte>());
        }

        usage.Complete();
        return usage;
    }

    [Fact]
    public void Complete_OpenAIChatJsonWithCachedTokens_CachedReadInsidePromptTokens()
    {
        var usage = Json("""{"id":"c","choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}""");

        Assert.Equal(2006, usage.InputTokens);
        Assert.Equal(300, usage.OutputTokens);
        Assert.Equal(new CachedInputTokens(1920, 0, 0), usage.CachedInput);
    }

    [Fact]
    public void Complete_ResponsesJsonWithCachedTokens_CachedReadFromInputTokensDetails()
    {
        var usage = Json("""{"id":"resp_1","object":"response","output":[],"usage":{"input_tokens":1500,"input_tokens_details":{"cached_tokens":1024},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":1540}}""");

        Assert.Equal(1500, usage.InputTokens);
        Assert.Equal(new CachedInputTokens(1024, 0, 0), usage.CachedInput);
    }

    [Fact]
    public void Complete_AnthropicJsonWithCacheReadAndWrites_SplitBy1hDetail()
    {
        var usage = Json("""{"id":"m","type":"message","content":[],"usage":{"input_tokens":50,"cache_creation_input_tokens":3000,"cache_read_input_tokens":7000,"cache_creation":{"ephemeral_5m_input_tokens":2000,"ephemeral_1h_input_tokens":1000},"output_tokens":20}}""");

        Assert.Equal(10_050, usage.InputTokens);
        Assert.Equal(new CachedInputTokens(7000, 2000, 1000), usage.CachedInput);
    }

    [Fact]
    public void Complete_AnthropicJsonWithoutCacheCreationDetail_AllWritesAre5Minute()
    {
        var usage = Json("""{"usage":{"input_tokens":5,"cache_creation_input_tokens":300,"cache_read_input_tokens":0,"output_tokens":2}}""");

        Assert.Equal(new CachedInputTokens(0, 300, 0), usage.CachedInput);
    }

    [Fact]
    public void Observe_OpenAIStreamWithCachedTokensInUsageChunk_CachedRead()
    {
        var usage = Sse(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
            "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":2,\"total_tokens\":1202,\"prompt_tokens_details\":{\"cached_tokens\":1152}}}\n\n" +
            "data: [DONE]\n\n");

        Assert.Equal(1200, usage.InputTokens);
        Assert.Equal(new CachedInputTokens(1152, 0, 0), usage.CachedInput);
    }

    [Fact]
    public void Observe_ResponsesStreamCompletedEvent_CachedRead()
    {
        var usage = Sse(
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n" +
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":900,\"input_tokens_details\":{\"cached_tokens\":512},\"output_tokens\":3,\"total_tokens\":903}}}\n\n");

        Assert.Equal(900, usage.InputTokens);
        Assert.Equal(new CachedInputTokens(512, 0, 0), usage.CachedInput);
    }

    [Fact]
    public void Observe_AnthropicStream_CacheFieldsFromMessageStartKeptThroughMessageDelta()
    {
        var usage = Sse(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":20,\"cache_creation_input_tokens\":500,\"cache_read_input_tokens\":4000,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":500},\"output_tokens\":1}}}\n\n" +
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n" +
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n" +
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");

        Assert.Equal(4520, usage.InputTokens);
        Assert.Equal(9, usage.OutputTokens);
        Assert.Equal(new CachedInputTokens(4000, 0, 500), usage.CachedInput);
    }

    [Fact]
    public void Observe_AnthropicMessageDeltaRepeatsCumulativeCacheUsage_LatestFiguresWin()
    {
        var usage = Sse(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":20,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n" +
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":20,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":3000,\"output_tokens\":9}}\n\n");

        Assert.Equal(3020, usage.InputTokens);
        Assert.Equal(new CachedInputTokens(3000, 0, 0), usage.CachedInput);
    }
}
