using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Operations;

/// <summary>
/// Sets each request's <see cref="HttpContext.TraceIdentifier"/> from a valid client <c>X-Request-Id</c> (1-128 of
/// A-Z a-z 0-9 and <c>. _ : - + / =</c>), else to a new 32-hex id, as the context is created: before ASP.NET Core opens
/// its logging scope (which carries <c>RequestId</c> into every line of the request, the request log's included).
/// </summary>
internal sealed partial class RequestIdHttpContextFactory(DefaultHttpContextFactory inner, IOptionsMonitor<ResponseHeaderOptions> options) : IHttpContextFactory
{
    public HttpContext Create(IFeatureCollection featureCollection)
    {
        var context = inner.Create(featureCollection);
        if (options.CurrentValue.RequestId)
        {
            var presented = context.Request.Headers[ResponseHeadersMiddleware.RequestIdHeader].ToString();
            context.TraceIdentifier = presented.Length is > 0 and <= 128 && Pattern().IsMatch(presented) ? presented : Guid.NewGuid().ToString("N");
        }

        return context;
    }

    public void Dispose(HttpContext httpContext) => inner.Dispose(httpContext);

    [GeneratedRegex("^[A-Za-z0-9._:+/=-]+$")]
    private static partial Regex Pattern();
}
