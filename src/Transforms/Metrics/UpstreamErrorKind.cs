using System.Net.Http;
using InferenceSidecar.Proxy;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceSidecar.Metrics;

/// <summary>The <c>kind</c> label of <c>sidecar_upstream_errors_total</c> for one attempt; null when the attempt did not fail (or the client left).</summary>
internal static class UpstreamErrorKind
{
    public static string? Classify(HttpContext context)
    {
        if (context.Features.Lookup<IForwarderErrorFeature>() is { } error)
        {
            return error.Error switch
            {
                _ when Resilience.ResilienceFeature.HasTimedOut(context) => "timeout",
                ForwarderError.RequestTimedOut => "timeout",
                ForwarderError.NoAvailableDestinations => "circuit_open",
                ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
                    or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient => null, // the client's doing
                ForwarderError.Request when error.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => "connect",
                _ => "transport",
            };
        }

        return UpstreamResponseFeature.StatusOf(context) switch
        {
            429 => "http_429",
            >= 500 => "http_5xx",
            _ => null,
        };
    }
}
