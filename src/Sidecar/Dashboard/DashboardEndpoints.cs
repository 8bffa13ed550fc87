using System.Reflection;
using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Hosting;
using InferenceSidecar.Keys;

namespace InferenceSidecar.Dashboard;

/// <summary>
/// The dashboard at <c>/ui</c> on the management port: static HTML, CSS and JavaScript embedded in the assembly (so the
/// published app has them with no files to copy). The page holds no data and no secret: it asks for the admin token,
/// keeps it in <c>sessionStorage</c> and sends it as a bearer header to the admin endpoints, which do the checking.
/// Like the admin API, the page does not exist (404) when no admin token is configured.
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly Dictionary<string, (byte[] Body, string ContentType)> Files = Load();

    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    public static IEndpointRouteBuilder MapSidecarDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/ui", (HttpContext c, LiveOptions<SidecarOptions> live, SecretResolver secrets) => ServeAsync(c, "index.html", live, secrets)).WithMetadata(ManagementEndpointMetadata.Instance);
        endpoints.MapGet("/ui/{file}", (HttpContext c, string file, LiveOptions<SidecarOptions> live, SecretResolver secrets) => ServeAsync(c, file, live, secrets)).WithMetadata(ManagementEndpointMetadata.Instance);
        return endpoints;
    }

    private static async Task ServeAsync(HttpContext context, string file, LiveOptions<SidecarOptions> live, SecretResolver secrets)
    {
        if (!secrets.TryResolve(live.Current.Admin.Token, out var token, warnIfMissing: false) || token.Length == 0 || !Files.TryGetValue(file, out var asset))
        {
            await NotFound.WriteAsync(context);
            return;
        }

        var headers = context.Response.Headers;
        headers.ContentType = asset.ContentType;
        headers.ContentSecurityPolicy = Policy;
        headers.XFrameOptions = "DENY";
        headers.CacheControl = "no-cache";
        headers["Referrer-Policy"] = "no-referrer";
        await context.Response.Body.WriteAsync(asset.Body, context.RequestAborted);
    }

    private static Dictionary<string, (byte[], string)> Load()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        const string Prefix = "InferenceSidecar.Dashboard.wwwroot.";
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var file = name[Prefix.Length..];
            var type = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            files[file] = (memory.ToArray(), type);
        }

        return files;
    }
}
