using InferenceSidecar.Proxy;
using InferenceSidecar.Errors;

namespace InferenceSidecar.Errors;

/// <summary>
/// Last line of defence: an unexpected exception becomes a 500 in the route's dialect with a fixed message.
/// Never a stack trace in the answer, never the exception message anywhere (it could carry a header value); the log
/// names its type and the frames it was thrown through (method names only, which carry no request data), so a rare
/// failure seen once in production can be traced.
/// Sits inside the developer exception page so Development never shows one either.
/// </summary>
internal sealed partial class UnhandledExceptionMiddleware(RequestDelegate next, ILogger<UnhandledExceptionMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception ex)
        {
            if (ex is BadHttpRequestException bad)
            {
                var provider = context.Features.Lookup<InferenceRequestFeature>()?.Provider ?? NotFound.GuessProvider(context.Request);
                var message = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large." : "Malformed request.";
                await ProviderErrors.WriteAsync(context, provider, bad.StatusCode, message);
                return;
            }

            LogUnhandled(logger, ex.GetType().FullName ?? "Exception", context.TraceIdentifier, Frames(ex));
            var kind = context.Features.Lookup<InferenceRequestFeature>()?.Provider ?? NotFound.GuessProvider(context.Request);
            await ProviderErrors.WriteAsync(context, kind, StatusCodes.Status500InternalServerError, "The sidecar failed to handle this request.", "internal_error");
        }
    }

    /// <summary>
    /// The exception's frames, one line each joined by <c> | </c> (its stack trace holds method names and offsets only,
    /// never the message), then the inner exception's type and frames, if any.
    /// </summary>
    internal static string Frames(Exception ex)
    {
        var frames = (ex.StackTrace ?? "").ReplaceLineEndings(" | ").Trim();
        return ex.InnerException is { } inner ? frames + " | inner " + (inner.GetType().FullName ?? "Exception") + ": " + Frames(inner) : frames;
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Error, Message = "Unhandled {ExceptionType} in request {RequestId} at {Frames}.")]
    private static partial void LogUnhandled(ILogger logger, string exceptionType, string requestId, string frames);
}
