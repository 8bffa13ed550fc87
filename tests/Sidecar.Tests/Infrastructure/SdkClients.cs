using System.ClientModel;
using System.ClientModel.Primitives;
using Anthropic;
using Anthropic.Core;
using OpenAI;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>The official SDKs pointed at the sidecar the way an app would: base URL on localhost, retries off.</summary>
internal static class SdkClients
{
    public static ChatClient OpenAIChat(Uri proxy, string user = "alice", string model = "gpt-4o", string clientKey = "client-held-key-must-not-leave", int maxRetries = 0)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(proxy, "openai/v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries),
        };
        if (user.Length > 0)
        {
            options.AddPolicy(new HeaderPolicy("X-User-Id", user), PipelinePosition.PerCall);
        }

        return new ChatClient(model, new ApiKeyCredential(clientKey), options);
    }

    public static AnthropicClient Anthropic(Uri proxy, string user = "alice", string clientKey = "client-held-key-must-not-leave") =>
        new(new ClientOptions
        {
            ApiKey = clientKey,
            BaseUrl = new Uri(proxy, "anthropic").ToString(),
            MaxRetries = 0,
            ExtraHeaders = user.Length > 0 ? new Dictionary<string, string> { ["X-User-Id"] = user } : new Dictionary<string, string>(),
        });

    private sealed class HeaderPolicy(string name, string value) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(name, value);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(name, value);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
