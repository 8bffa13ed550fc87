using System.Diagnostics;
using InferenceSidecar.Proxy;
using InferenceSidecar.Providers;
using Yarp.ReverseProxy;

namespace InferenceSidecar.Tracing;

/// <summary>
/// A client span around each proxied inference request, following the OpenTelemetry GenAI semantic conventions:
/// named <c>{operation} {model}</c>, with <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c>,
/// <c>gen_ai.request.model</c>, <c>gen_ai.request.max_tokens</c> and, once accounted, <c>gen_ai.usage.input_tokens</c>
/// and <c>gen_ai.usage.output_tokens</c>; plus the sidecar's route, cache result, limit decision and cost. The upstream
/// HTTP call runs inside it, so the W3C <c>traceparent</c> sent upstream names this trace. Costs nothing when no
/// listener (OTLP exporter) is attached. User ids are not recorded.
/// </summary>
internal sealed class GenAiTracingMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var parsed = context.Features.Lookup<ParsedRequest>();
        return parsed is null || !SidecarActivitySource.Source.HasListeners() ? next(context) : TracedAsync(context, parsed);
    }

    private async Task TracedAsync(HttpContext context, ParsedRequest parsed)
    {
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var operation = Operation(context.Request.Path);
        var model = parsed.Info.Model;
        using var activity = SidecarActivitySource.Source.StartActivity(model is null ? operation : operation + " " + model, ActivityKind.Client);
        if (activity is null)
        {
            await next(context);
            return;
        }

        activity.SetTag("gen_ai.operation.name", operation);
        activity.SetTag("gen_ai.provider.name", Provider(feature.Provider));
        activity.SetTag("gen_ai.request.model", model);
        activity.SetTag("gen_ai.request.max_tokens", parsed.Info.MaxOutputTokens);
        activity.SetTag("gen_ai.request.stream", parsed.Info.Stream);
        activity.SetTag("sidecar.route", feature.RouteId);
        try
        {
            await next(context);
        }
        finally
        {
            if (context.GetProxyFeature().ProxiedDestination?.Model.Config.Address is { } address && Uri.TryCreate(address, UriKind.Absolute, out var uri))
            {
                activity.SetTag("server.address", uri.Host);
                activity.SetTag("server.port", uri.Port);
            }

            var status = context.Response.StatusCode;
            activity.SetTag("http.response.status_code", status);
            var limit = context.Features.Lookup<RateLimiting.LimitFeature>();
            activity.SetTag("sidecar.cluster", Resilience.ResilienceFeature.ClusterOf(context));
            activity.SetTag("sidecar.cache.result", Caching.ResponseCacheFeature.ResultOf(context));
            activity.SetTag("sidecar.limit.outcome", limit?.Outcome ?? context.Features.Lookup<ModelPolicy.ModelPolicyFeature>()?.Refusal);
            if (limit?.Accounted is { } usage)
            {
                activity.SetTag("gen_ai.usage.input_tokens", usage.InputTokens);
                activity.SetTag("gen_ai.usage.output_tokens", usage.OutputTokens);
                activity.SetTag("sidecar.cost_usd", usage.CostUsd);
            }

            if (status >= 400 || context.RequestAborted.IsCancellationRequested)
            {
                var error = context.RequestAborted.IsCancellationRequested ? "client_closed" : Metrics.SidecarMetrics.StatusLabel(status);
                activity.SetTag("error.type", error);
                activity.SetStatus(ActivityStatusCode.Error, error);
            }
        }
    }

    private static string Operation(PathString path)
    {
        var value = path.Value ?? string.Empty;
        return value.EndsWith("/embeddings", StringComparison.OrdinalIgnoreCase) ? "embeddings"
            : value.EndsWith("/completions", StringComparison.OrdinalIgnoreCase) && !value.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase) ? "text_completion"
            : "chat";
    }

    private static string Provider(ProviderKind provider) => provider switch
    {
        ProviderKind.Anthropic => "anthropic",
        ProviderKind.AzureOpenAI => "azure.ai.openai",
        _ => "openai",
    };
}
