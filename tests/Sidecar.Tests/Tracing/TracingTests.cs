using System.Collections.Concurrent;
using System.Diagnostics;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.Tracing;

/// <summary>GenAI spans with the provider's usage, W3C trace context carried upstream, and OTLP export when configured.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Send_WithTraceparent_UpstreamGetsSameTraceIdAndNewParent()
    {
        // Arrange
        await using var env = await SidecarWithFake.StartAsync();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var parent = ActivitySpanId.CreateRandom().ToHexString();

        // Act
        var (status, _, _) = await Http.SendAsync(env.Sidecar.Client, Http.Post(
            "openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "tracy"), ("traceparent", $"00-{traceId}-{parent}-01")));

        // Assert
        Assert.Equal(200, status);
        var sent = Assert.Single(env.Fake.Received).Header("traceparent");
        Assert.NotNull(sent);
        Assert.StartsWith($"00-{traceId}-", sent, StringComparison.Ordinal);
        Assert.DoesNotContain(parent, sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_ListenerAttached_GenAiSpanCarriesModelAndProviderUsage()
    {
        // Arrange: a model name no other test uses, to pick this test's span out of the process-wide source
        var model = "gpt-4o-trace-" + Guid.NewGuid().ToString("N")[..8];
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "InferenceSidecar",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.DisplayName.EndsWith(model, StringComparison.Ordinal))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => s.Price(model, 2.5, 10));
        var client = SdkClients.OpenAIChat(env.Sidecar.ProxyAddress, user: "tracy", model: model);

        // Act
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("A traced question.")]);
        await Task.Delay(100);

        // Assert
        var span = Assert.Single(spans);
        Assert.Equal("chat " + model, span.DisplayName);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("openai", span.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(model, span.GetTagItem("gen_ai.request.model"));
        Assert.Equal((long)completion.Usage.InputTokenCount, span.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal((long)completion.Usage.OutputTokenCount, span.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Null(span.GetTagItem("enduser.id"));
        Assert.DoesNotContain(span.Tags, t => t.Value?.Contains("tracy", StringComparison.Ordinal) == true);
        var upstream = Assert.Single(env.Fake.Received).Header("traceparent");
        Assert.Equal($"00-{span.TraceId}-", upstream![..36]);
    }

    [Fact]
    public async Task Send_OtlpEndpointConfigured_SpansExportedOverOtlpHttp()
    {
        // Arrange
        await using var collector = await OtlpCollector.StartAsync();
        var model = "gpt-4o-otlp-" + Guid.NewGuid().ToString("N")[..8];
        var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Address.ToString();
            s["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            s["OTEL_SERVICE_NAME"] = "sidecar-under-test";
            s.Price(model, 2.5, 10);
        });

        // Act
        var (status, _, _) = await Http.SendAsync(env.Sidecar.Client, Http.Post(
            "openai/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"export me"}]}""", ("X-User-Id", "otto")));
        await env.DisposeAsync(); // shutdown flushes the batch exporter

        // Assert
        Assert.Equal(200, status);
        var text = collector.Text;
        Assert.Contains("sidecar-under-test", text, StringComparison.Ordinal);
        Assert.Contains("chat " + model, text, StringComparison.Ordinal);
        Assert.Contains("gen_ai.request.model", text, StringComparison.Ordinal);
        Assert.Contains("gen_ai.usage.output_tokens", text, StringComparison.Ordinal);
        Assert.DoesNotContain(env.Keys.OpenAIKey, text, StringComparison.Ordinal);
    }
}
