using InferenceSidecar.Proxy;
using InferenceSidecar.Errors;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceSidecar.Errors;

/// <summary>
/// Turns YARP's bare forwarding failures into dialect errors: unreachable upstream 502, timeout 504, no healthy
/// destination 503, oversized body 413. After the response has started YARP has already aborted the connection,
/// so a truncated stream never looks like a clean end. Logs name the error kind and exception type only.
/// </summary>
internal sealed partial class ForwarderErrorMiddleware(RequestDelegate next, ILogger<ForwarderErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await next(context);
        var error = context.Features.Lookup<IForwarderErrorFeature>();
        if (error is null || error.Error == ForwarderError.None)
        {
            return;
        }

        var feature = context.Features.Lookup<InferenceRequestFeature>();
        LogForwarderError(logger, error.Error, error.Exception?.GetType().Name ?? "none", Resilience.ResilienceFeature.ClusterOf(context) ?? "unknown");
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        var (status, message) = Resilience.ResilienceFeature.HasTimedOut(context)
            ? (StatusCodes.Status504GatewayTimeout, "The upstream provider did not answer in time.")
            : Describe(error);
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "5";
        }

        if (status == 0)
        {
            return;
        }

        Streaming.HoldingResponseBody.Unwrap(context); // the wrappers were made for the provider's stream, not this answer
        await ProviderErrors.WriteAsync(context, feature?.Provider ?? NotFound.GuessProvider(context.Request), status, message);
    }

    private static (int Status, string Message) Describe(IForwarderErrorFeature error) => error.Error switch
    {
        ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, "The upstream provider did not answer in time."),
        ForwarderError.NoAvailableDestinations => (StatusCodes.Status503ServiceUnavailable, "No healthy upstream destination is available."),
        ForwarderError.RequestBodyClient when error.Exception is BadHttpRequestException { StatusCode: 413 } =>
            (StatusCodes.Status413PayloadTooLarge, "Request body too large."),
        ForwarderError.RequestBodyClient => (StatusCodes.Status400BadRequest, "The request body could not be read."),
        ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled => (0, string.Empty),
        _ => (StatusCodes.Status502BadGateway, "The upstream provider could not be reached."),
    };

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Forwarding to cluster {ClusterId} failed: {Error} ({ExceptionType}).")]
    private static partial void LogForwarderError(ILogger logger, ForwarderError error, string exceptionType, string clusterId);
}
