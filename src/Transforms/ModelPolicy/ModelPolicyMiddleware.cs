using System.Globalization;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Configuration;
using InferenceSidecar.Proxy;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;

namespace InferenceSidecar.ModelPolicy;

/// <summary>
/// Applies <c>Sidecar:ModelPolicy</c> after identity (the tier is known) and redaction, before limits, prices, the
/// cache and the upstream: an alias is rewritten to its model, a model outside the allow-lists gets 400
/// <c>model_not_allowed</c>, an output cap above the policy's gets 400 <c>max_tokens_exceeded</c> or is clamped, and a
/// missing cap is written in where the policy sets one or the provider requires one (Anthropic Messages). The body is
/// edited in place at the token positions the intake parser recorded: no second parse, everything else byte-identical.
/// </summary>
internal sealed class ModelPolicyMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live)
{
    public const string ClampedHeader = "x-sidecar-max-tokens-clamped";

    public Task InvokeAsync(HttpContext context)
    {
        var options = live.Current.ModelPolicy;
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var policy = EffectiveModelPolicy.For(options, feature.RouteId, context.Features.Lookup<Identity.IdentityFeature>()?.Tier ?? "default");
        var parsed = context.Features.Lookup<ParsedRequest>();
        if (parsed is null)
        {
            if (policy.HasAllowList && context.Features.Lookup<UploadRequest>() is not null)
            {
                // The model of a multipart upload is a form field the sidecar does not parse: it cannot be checked.
                return Refuse(context, feature, "This route restricts models, and the model of a multipart upload cannot be checked; use a route without a model allow-list for uploads.", "model_not_allowed");
            }

            return policy.HasAllowList && feature.Model is { } urlModel && !policy.Allows(urlModel)
                ? Refuse(context, feature, NotAllowed(urlModel), "model_not_allowed")
                : next(context);
        }

        var endpoint = feature.Endpoint;
        var anthropicMessages = ReferenceEquals(endpoint, ProviderEndpoints.AnthropicMessages);
        if (policy.IsEmpty && !(anthropicMessages && parsed.Info.MaxOutputTokens is null && options.AnthropicDefaultMaxTokens > 0))
        {
            return next(context);
        }

        return ApplyAsync(context, feature, policy, parsed, anthropicMessages ? options.AnthropicDefaultMaxTokens : 0);
    }

    private async Task ApplyAsync(HttpContext context, InferenceRequestFeature feature, EffectiveModelPolicy policy, ParsedRequest parsed, int requiredDefault)
    {
        // Token positions refer to the body as read; redaction's edits are recorded against the same body, so they
        // shift nothing. The alias replaces the whole model token, superseding a redaction of it (see BodyEdits).
        var info = parsed.Info;
        var model = info.Model;
        byte[]? modelEdit = null;
        (int Start, int Length, byte[] Bytes)? capEdit = null;
        string? addedCap = null;
        if (!feature.ModelFromUrl && model is not null && policy.TryAlias(model, out var target))
        {
            model = target;
            modelEdit = JsonSerializer.SerializeToUtf8Bytes(target, Serialization.SidecarJsonContext.Default.String);
        }

        if (policy.HasAllowList)
        {
            if (model is null)
            {
                await Refuse(context, feature, "This route restricts models: the request must name one.", "model_not_allowed");
                return;
            }

            if (!policy.Allows(model))
            {
                await Refuse(context, feature, NotAllowed(model), "model_not_allowed");
                return;
            }
        }

        var cap = policy.MaxOutputTokens;
        var field = info.MaxOutputField ?? CapField(feature.Endpoint);
        int? maxOutput = info.MaxOutputTokens;
        if (field is not null && info.MaxOutputTokens is { } asked && cap > 0 && asked > cap)
        {
            if (policy.OverCap == OverCapAction.Refuse)
            {
                await Refuse(context, feature, $"{field} {asked} is above this route's limit of {cap} output tokens; ask for at most {cap}.", "max_tokens_exceeded");
                return;
            }

            maxOutput = cap;
            capEdit = (info.MaxOutputToken.Start, info.MaxOutputToken.Length, Number(cap));
            context.Response.Headers[ClampedHeader] = cap.ToString(CultureInfo.InvariantCulture);
        }
        else if (field is not null && info.MaxOutputTokens is null && (cap > 0 ? cap : requiredDefault) is > 0 and var fill)
        {
            maxOutput = fill;
            if (info.MaxOutputToken.Start >= 0)
            {
                capEdit = (info.MaxOutputToken.Start, info.MaxOutputToken.Length, Number(fill)); // "max_tokens": null
            }
            else
            {
                addedCap = field;
            }
        }

        if (modelEdit is not null || capEdit is not null || addedCap is not null)
        {
            // Recorded, not applied: the body is rewritten once, before forwarding (RequestBodyRewriteMiddleware).
            if (modelEdit is not null)
            {
                parsed.Edits.Replace(info.ModelToken.Start, info.ModelToken.Length, modelEdit);
            }

            if (capEdit is { } edit)
            {
                parsed.Edits.Replace(edit.Start, edit.Length, edit.Bytes);
            }
            else if (addedCap is not null)
            {
                parsed.Edits.AddMember(info.RootStart, addedCap, Number(maxOutput!.Value));
            }

            parsed.Info = info with { Model = model, MaxOutputTokens = maxOutput, MaxOutputField = maxOutput is null ? info.MaxOutputField : field };
            feature.Model = model;
        }

        await next(context);
    }

    /// <summary>The field a missing cap is written as: the one each API documents (none for endpoints without output).</summary>
    private static string? CapField(EndpointDescriptor endpoint) =>
        ReferenceEquals(endpoint, ProviderEndpoints.AnthropicMessages) || ReferenceEquals(endpoint, ProviderEndpoints.Completions) ? "max_tokens"
        : ReferenceEquals(endpoint, ProviderEndpoints.ChatCompletions) ? "max_completion_tokens"
        : ReferenceEquals(endpoint, ProviderEndpoints.Responses) ? "max_output_tokens"
        : null;

    private static string NotAllowed(string model) => $"The model '{LimitPlan.KeySafe(model)}' is not allowed on this route.";

    private static Task Refuse(HttpContext context, InferenceRequestFeature feature, string message, string code)
    {
        context.Features.Store(new ModelPolicyFeature { Refusal = "policy:" + code });
        return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status400BadRequest, message, code);
    }

    private static byte[] Number(int value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));
}
