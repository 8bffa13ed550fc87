namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Provider answers in the OpenAI and Anthropic wire formats, for WireMock upstreams.</summary>
internal static class CannedAnswers
{
    public static string OpenAIChat(string content, int promptTokens, int completionTokens) =>
        $$$"""{"id":"chatcmpl-canned","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"{{{content}}}","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":{{{promptTokens}}},"completion_tokens":{{{completionTokens}}},"total_tokens":{{{promptTokens + completionTokens}}}}}""";

    public static string AnthropicMessage(string text, int inputTokens, int outputTokens) =>
        $$$"""{"id":"msg_canned","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"{{{text}}}"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":{{{inputTokens}}},"output_tokens":{{{outputTokens}}}}}""";

    public static string OpenAIError(string message, string type) =>
        $$$"""{"error":{"message":"{{{message}}}","type":"{{{type}}}","code":null}}""";

    public static string AnthropicError(string message, string type) =>
        $$$"""{"type":"error","error":{"type":"{{{type}}}","message":"{{{message}}}"}}""";

    /// <summary>One OpenAI stream chunk carrying <paramref name="content"/>, as a complete <c>data:</c> event.</summary>
    public static string OpenAIChunk(string content) =>
        $$$"""data: {"id":"chatcmpl-canned","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"{{{content}}}"},"finish_reason":null}]}""" + "\n\n";

    /// <summary>The final OpenAI usage chunk (what <c>stream_options.include_usage</c> asks for).</summary>
    public static string OpenAIUsageChunk(int promptTokens, int completionTokens) =>
        $$$"""data: {"id":"chatcmpl-canned","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":{{{promptTokens}}},"completion_tokens":{{{completionTokens}}},"total_tokens":{{{promptTokens + completionTokens}}}}}""" + "\n\n";
}
