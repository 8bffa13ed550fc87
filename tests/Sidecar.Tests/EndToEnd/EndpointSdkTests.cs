using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using Anthropic.Models.Messages;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Responses;

namespace InferenceSidecar.Tests.EndToEnd;

#pragma warning disable OPENAI001 // the Responses client is marked experimental in the SDK

/// <summary>
/// Each endpoint of the endpoint model through the official SDKs (issue 14, "Done when"): OpenAI Responses (JSON and
/// streaming), embeddings, the Azure deployment path shape, Anthropic count_tokens. The fake validates parameters as
/// strictly as the real API, so an injected field the real API refuses fails here; and for each, the tokens the
/// limiter reconciled, <c>/metrics</c>, <c>/admin/usage</c> and the request log equal what the provider reported.
/// </summary>
public sealed class EndpointSdkTests : IAsyncLifetime
{
    private SidecarWithFake _env = null!;

    public async Task InitializeAsync() => _env = await SidecarWithFake.StartAsync((settings, fake, keys) =>
    {
        settings["Sidecar:Admin:Token"] = keys.AdminReference;
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "1000";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "100000000";
        settings["Sidecar:RateLimits:Models:gpt-4o:RequestsPerMinute"] = "3";
        settings["Sidecar:RateLimits:Models:gpt-4o-mini:TokensPerMinute"] = "40000";
        settings.AddRoute("azure", "azure", "azure");
        settings["ReverseProxy:Clusters:azure:Destinations:primary:Address"] = fake.BaseAddress.ToString();
        settings["ReverseProxy:Clusters:azure:Metadata:Provider"] = "AzureOpenAI";
        settings["ReverseProxy:Clusters:azure:Metadata:ApiKey"] = keys.OpenAIReference;
        settings["ReverseProxy:Clusters:azure:Metadata:Deployments"] = "prod-4o=gpt-4o";
        settings.AddRoute("cached", "cached", "openai");
        settings["ReverseProxy:Routes:cached:Metadata:Cache"] = "On";
    });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    private FakeProviderServer Fake => _env.Fake;

    private OpenAIClientOptions Options(string user, string path = "openai/v1")
    {
        var options = new OpenAIClientOptions { Endpoint = new Uri(_env.Sidecar.ProxyAddress, path), RetryPolicy = new ClientRetryPolicy(0) };
        options.AddPolicy(new HeaderPolicy("X-User-Id", user, null), PipelinePosition.PerCall);
        return options;
    }

    /// <summary>Everything that counts tokens agrees with what the provider reported for <paramref name="user"/>.</summary>
    private async Task AssertAccountedAsync(string user, string route, long input, long output, int rows)
    {
        var usage = default(System.Text.Json.JsonElement);
        for (var i = 0; i < 100; i++)
        {
            usage = await Infrastructure.Admin.GetAsync(_env.Sidecar, "admin/usage?user=" + user, _env.Keys.AdminToken);
            if (usage.GetProperty("totals").GetProperty("requests").GetInt64() >= rows)
            {
                break;
            }

            await Task.Delay(50);
        }

        var totals = usage.GetProperty("totals");
        Assert.Equal(rows, totals.GetProperty("requests").GetInt64());
        Assert.Equal(input, totals.GetProperty("input_tokens").GetInt64());
        Assert.Equal(output, totals.GetProperty("output_tokens").GetInt64());

        var used = await Limits.DailyTokensUsedAsync(_env.Sidecar, user, u => Math.Abs(u - (input + output)) < 0.5);
        Assert.Equal(input + output, used, 0);

        var text = await _env.Sidecar.Management.GetStringAsync("metrics");
        Assert.Equal(input, PrometheusText.Sum(text, "sidecar_tokens_total", ("route", route), ("type", "input")));
        Assert.Equal(output, PrometheusText.Sum(text, "sidecar_tokens_total", ("route", route), ("type", "output")));

        await _env.Sidecar.Logs.WaitForAsync(e => IsRequestLine(e, user));
        var lines = _env.Sidecar.Logs.Events.Where(e => IsRequestLine(e, user)).ToArray();
        Assert.Equal(input, lines.Sum(e => long.Parse(Prop(e, "InputTokens"), System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(output, lines.Sum(e => long.Parse(Prop(e, "OutputTokens"), System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task CreateResponse_ResponsesJsonThroughSidecar_AnswerAndUsageAccountedEverywhere()
    {
        var client = new ResponsesClient(new ApiKeyCredential("client-held-key"), ResponsesOptions("resp-json"));

        ResponseResult response = await client.CreateResponseAsync(new CreateResponseOptions { Model = "gpt-4o-mini", InputItems = { ResponseItem.CreateUserMessageItem("Say hello to the sidecar.") } });

        Assert.Equal(Fake.Behavior.ReplyText, response.GetOutputText());
        var received = Assert.Single(Fake.Received);
        Assert.Equal("/v1/responses", received.Path);
        await AssertAccountedAsync("resp-json", "openai", response.Usage.InputTokenCount, response.Usage.OutputTokenCount, 1);
    }

    [Fact]
    public async Task CreateResponseStreaming_ResponsesStreamThroughSidecar_NoStreamOptionsInjectedAndUsageFromCompleted()
    {
        var client = new ResponsesClient(new ApiKeyCredential("client-held-key"), ResponsesOptions("resp-sse"));
        var text = new StringBuilder();
        ResponseTokenUsage? usage = null;

        await foreach (var update in await client.CreateResponseStreamingAsync(new CreateResponseOptions { Model = "gpt-4o-mini", StreamingEnabled = true, InputItems = { ResponseItem.CreateUserMessageItem("Say hello to the sidecar.") } }))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                text.Append(delta.Delta);
            }
            else if (update is StreamingResponseCompletedUpdate completed)
            {
                usage = completed.Response.Usage;
            }
        }

        Assert.Equal(Fake.Behavior.ReplyText, text.ToString());
        Assert.NotNull(usage);
        var received = Assert.Single(Fake.Received);
        Assert.DoesNotContain("stream_options", received.BodyText, StringComparison.Ordinal);
        await AssertAccountedAsync("resp-sse", "openai", usage.InputTokenCount, usage.OutputTokenCount, 1);
    }

    [Fact]
    public async Task GenerateEmbeddings_ThroughSidecar_InputTokensAccountedEverywhere()
    {
        var client = new EmbeddingClient("text-embedding-3-small", new ApiKeyCredential("client-held-key"), Options("emb-user"));

        OpenAIEmbeddingCollection embeddings = await client.GenerateEmbeddingsAsync(["Say hello to the sidecar.", "And again."]);

        Assert.Equal(2, embeddings.Count);
        Assert.Equal(3, embeddings[0].ToFloats().Length);
        Assert.True(embeddings.Usage.InputTokenCount > 0);
        await AssertAccountedAsync("emb-user", "openai", embeddings.Usage.InputTokenCount, 0, 1);
    }

    [Fact]
    public async Task CountTokens_AnthropicThroughSidecar_AnswersAndSpendsNothing()
    {
        var client = SdkClients.Anthropic(_env.Sidecar.ProxyAddress, user: "count-user");

        var count = await client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "claude-sonnet-4-5",
            Messages = [new() { Role = Role.User, Content = "Say hello to the sidecar." }],
        });

        Assert.True(count.InputTokens > 0);
        var received = Assert.Single(Fake.Received);
        Assert.Equal("/v1/messages/count_tokens", received.Path);
        Assert.DoesNotContain("max_tokens", received.BodyText, StringComparison.Ordinal);
        await _env.Sidecar.Logs.WaitForAsync(e => IsRequestLine(e, "count-user"));
        await AssertAccountedAsync("count-user", "anthropic", 0, 0, 0);
    }

    [Fact]
    public async Task CompleteChat_AzureDeploymentPath_CountedAsMappedModelAndLimitedByIt()
    {
        // The OpenAI SDK in Azure's path shape: /openai/deployments/{deployment}/chat/completions?api-version=…, no model in the body.
        var options = new OpenAIClientOptions { Endpoint = new Uri(_env.Sidecar.ProxyAddress, "azure/openai/deployments/prod-4o"), RetryPolicy = new ClientRetryPolicy(0) };
        options.AddPolicy(new HeaderPolicy("X-User-Id", "azure-user", "2024-10-21"), PipelinePosition.PerCall);
        var client = new ChatClient("prod-4o", new ApiKeyCredential("client-held-key"), options);
        long input = 0, output = 0;

        for (var i = 0; i < 3; i++)
        {
            if (i == 1)
            {
                await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Say hello to the sidecar.")]))
                {
                    if (update.Usage is { } u)
                    {
                        input += u.InputTokenCount;
                        output += u.OutputTokenCount;
                    }
                }

                continue;
            }

            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Say hello to the sidecar.")]);
            input += completion.Usage.InputTokenCount;
            output += completion.Usage.OutputTokenCount;
        }

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("again")]));

        Assert.Equal(429, refused.Status); // gpt-4o's 3 per minute applies to deployment prod-4o
        Assert.Contains("gpt-4o", refused.Message, StringComparison.Ordinal);
        Assert.Equal(3, Fake.Received.Count);
        Assert.All(Fake.Received, r => Assert.Equal("/openai/deployments/prod-4o/chat/completions", r.Path));
        var usage = await Infrastructure.Admin.GetAsync(_env.Sidecar, "admin/usage?user=azure-user&model=gpt-4o", _env.Keys.AdminToken);
        Assert.Equal(3, usage.GetProperty("totals").GetProperty("requests").GetInt64());
        await AssertAccountedAsync("azure-user", "azure", input, output, 3);
    }

    [Fact]
    public async Task Send_ResponsesStreamTwice_SecondServedFromCacheByteForByte()
    {
        const string body = """{"model":"gpt-4o-mini","stream":true,"input":"Say hello to the sidecar."}""";

        var first = await Http.SendAsync(_env.Sidecar.Client, Http.Post("cached/v1/responses", body, ("X-User-Id", "cache-user")));
        var second = await Http.SendAsync(_env.Sidecar.Client, Http.Post("cached/v1/responses", body, ("X-User-Id", "cache-user")));

        Assert.True(200 == first.Status, first.Response.ToString() + Encoding.UTF8.GetString(first.Body));
        Assert.Equal("MISS", first.Response.Headers.GetValues("X-Cache").Single());
        Assert.Equal("HIT", second.Response.Headers.GetValues("X-Cache").Single());
        Assert.Equal("text/event-stream", second.Response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(first.Body, second.Body);
        Assert.Contains("event: response.completed", Encoding.UTF8.GetString(second.Body), StringComparison.Ordinal);
        Assert.Single(Fake.Received);
    }

    [Fact]
    public async Task Send_ResponsesStreamCutBeforeCompleted_NotCached()
    {
        const string body = """{"model":"gpt-4o-mini","stream":true,"input":"Say hello, cut."}""";
        Fake.Next.Enqueue(new FakeBehavior { FailAfterChunks = 6 });

        try
        {
            await Http.SendAsync(_env.Sidecar.Client, Http.Post("cached/v1/responses", body, ("X-User-Id", "cut-user")));
        }
        catch (HttpRequestException)
        {
            // the stream was cut: expected
        }

        var second = await Http.SendAsync(_env.Sidecar.Client, Http.Post("cached/v1/responses", body, ("X-User-Id", "cut-user")));

        Assert.Equal("MISS", second.Response.Headers.GetValues("X-Cache").Single());
        Assert.Equal(2, Fake.Received.Count);
    }

    [Fact]
    public async Task Send_ClientLeavesBeforeFirstByte_ChargedTheInputThatReachedTheProvider()
    {
        Fake.Behavior = new FakeBehavior { HeaderDelay = TimeSpan.FromSeconds(2) };
        var prompt = new string('w', 4000);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _env.Sidecar.Client.SendAsync(
            Http.Post("openai/v1/chat/completions", $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{prompt}}"}]}""", ("X-User-Id", "leaver")), cts.Token));

        Assert.Single(Fake.Received);

        // The sidecar's estimate of the prompt ("role"+"user"+"content" + 4000 bytes) / 4, as no usage ever came back.
        await AssertAccountedAsync("leaver", "openai", (4 + 4 + 7 + 4000 + 3) / 4, 0, 1);
    }

    [Fact]
    public async Task Send_NChoices_ReservesOutputForEachChoice()
    {
        // gpt-4o-mini: 40,000 tokens a minute. max_tokens 100 × n 30 reserves 3,000 output tokens (plus the input).
        const string body = """{"model":"gpt-4o-mini","n":30,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""";

        var (status, response, message) = await Http.SendAsync(_env.Sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "n-user")));

        Assert.Equal(200, status);
        Assert.Equal(30, Http.Json(response).GetProperty("choices").GetArrayLength());
        var remaining = double.Parse(message.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(remaining <= 40000 - 3000, $"remaining {remaining}: the reservation did not scale with n");
    }

    private static bool IsRequestLine(Serilog.Events.LogEvent e, string user) =>
        e.Properties.ContainsKey("RequestId") && e.Properties.TryGetValue("User", out var u) && u.ToString() == "\"" + user + "\"";

    private static string Prop(Serilog.Events.LogEvent e, string name) => e.Properties[name].ToString().Trim('"');

    private ResponsesClientOptions ResponsesOptions(string user)
    {
        var options = new ResponsesClientOptions { Endpoint = new Uri(_env.Sidecar.ProxyAddress, "openai/v1"), RetryPolicy = new ClientRetryPolicy(0) };
        options.AddPolicy(new HeaderPolicy("X-User-Id", user, null), PipelinePosition.PerCall);
        return options;
    }

    /// <summary>Adds the identity header, and Azure's <c>api-version</c> query when given.</summary>
    private sealed class HeaderPolicy(string name, string value, string? apiVersion) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Apply(PipelineMessage message)
        {
            message.Request.Headers.Set(name, value);
            if (apiVersion is not null)
            {
                message.Request.Uri = new Uri(message.Request.Uri + (message.Request.Uri!.Query.Length == 0 ? "?" : "&") + "api-version=" + apiVersion);
            }
        }
    }
}
