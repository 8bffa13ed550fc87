using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;
using InferenceSidecar.Threat;
using InferenceSidecar.Errors;
using InferenceSidecar.Redaction;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Redaction;

/// <summary>
/// Runs the detectors over every string of a JSON request body before anything else sees it (limits, cache,
/// upstream). <c>Redact</c> (default) replaces each finding and forwards valid JSON, byte-identical elsewhere;
/// <c>Block</c> answers 400 in the route's dialect naming the detector types, never the secret; <c>Off</c> forwards
/// untouched. Findings are counted by detector and action; nothing found is ever logged.
/// </summary>
internal sealed class RedactionMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live, SidecarMetrics metrics)
{
    private Redactor? _redactor;
    private RedactionOptions? _builtFrom;

    public Task InvokeAsync(HttpContext context)
    {
        var parsed = context.Features.Lookup<ParsedRequest>();
        var upload = context.Features.Lookup<UploadRequest>();
        var mode = RouteRedactionPolicy.For(context.GetProxyFeature().Route.Config).Mode;
        if ((parsed is null && upload is null) || mode == RedactionMode.Off)
        {
            return next(context);
        }

        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var redactor = Current();
        context.Features.Store(new ResponseRedactionFeature { Redactor = redactor, OnFinding = type => metrics.Redaction(type, "redact_response") });
        var findings = new List<string>();
        var edits = parsed is not null ? JsonRedactor.Find(parsed.Body.Span, redactor, findings) : null;
        var redactedUpload = parsed is null ? RedactUpload(upload!.Body.Span, redactor, findings) : null;
        if (edits is not null || redactedUpload is not null)
        {
            // A secret sent as the model name would otherwise go on from the parse to every place that shows the model:
            // refusals ("model … has no price"), logs, usage rows, spans. They get the redacted name, as the upstream does.
            if (parsed?.Info.Model is { } model && redactor.MayContain(model) && redactor.Redact(model, []) is { } redactedModel)
            {
                parsed.Info = parsed.Info with { Model = redactedModel };
                if (!feature.ModelFromUrl)
                {
                    feature.Model = redactedModel;
                }
            }

            context.RaiseThreat(ThreatSignals.Secret);
            var action = mode == RedactionMode.Block ? "block" : "redact";
            foreach (var finding in findings)
            {
                metrics.Redaction(finding, action);
            }

            if (mode == RedactionMode.Block)
            {
                return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status400BadRequest,
                    $"Request blocked: it contains a secret ({DetectorCatalog.Describe(findings)}). Remove it and retry.", "secret_detected");
            }

            // Recorded, not applied: the body is rewritten once, before forwarding (RequestBodyRewriteMiddleware).
            if (parsed is not null)
            {
                foreach (var (start, length, bytes) in edits!)
                {
                    parsed.Edits.Replace(start, length, bytes);
                }
            }
            else
            {
                upload!.Redacted = redactedUpload;
            }
        }

        return next(context); // a stream's held-back text is released by ResponseBodyCompletionMiddleware, nearer the forwarder
    }

    /// <summary>
    /// A multipart upload scanned as bytes: read as Latin-1 (one char per byte, so every byte the detectors do not touch
    /// round-trips exactly), redacted, written back. Secrets are ASCII, so they match whatever the file's encoding.
    /// </summary>
    private static byte[]? RedactUpload(ReadOnlySpan<byte> body, Redactor redactor, List<string> findings)
    {
        var text = System.Text.Encoding.Latin1.GetString(body);
        return redactor.MayContain(text) && redactor.Redact(text, findings) is { } redacted ? System.Text.Encoding.Latin1.GetBytes(redacted) : null;
    }

    /// <summary>The detectors for the live options, rebuilt only when the Redaction section changes.</summary>
    private Redactor Current()
    {
        var options = live.Current.Redaction;
        if (_redactor is { } redactor && ReferenceEquals(options, _builtFrom))
        {
            return redactor;
        }

        var detectors = new List<Detector>(DetectorCatalog.Secrets);
        detectors.AddRange(DetectorCatalog.PersonalData.Where(d => d.Name switch
        {
            "email" => options.Pii.Email,
            "phone" => options.Pii.Phone,
            "iban" => options.Pii.Iban,
            _ => false,
        }));
        detectors.AddRange(options.Custom.Select(c => DetectorCatalog.Custom(c.Name, c.Pattern)));
        _redactor = new Redactor(detectors);
        _builtFrom = options;
        return _redactor;
    }
}
