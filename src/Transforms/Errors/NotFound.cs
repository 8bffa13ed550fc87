using InferenceSidecar.Errors;
using InferenceSidecar.Providers;

namespace InferenceSidecar.Errors;

/// <summary>The 404 for paths no route serves, in the dialect the path suggests (Anthropic for <c>/anthropic/…</c> or an <c>anthropic-version</c> header).</summary>
internal static class NotFound
{
    public static Task WriteAsync(HttpContext context) =>
        ProviderErrors.WriteAsync(context, GuessProvider(context.Request), StatusCodes.Status404NotFound, "No route matches this path on this port.", "not_found");

    public static ProviderKind GuessProvider(HttpRequest request) =>
        request.Path.StartsWithSegments("/anthropic", StringComparison.OrdinalIgnoreCase) || request.Headers.ContainsKey("anthropic-version")
            ? ProviderKind.Anthropic
            : ProviderKind.OpenAI;
}
