namespace InferenceSidecar.Operations;

/// <summary><c>Sidecar:ResponseHeaders</c> (live): the headers the sidecar adds to answers on the proxy port.</summary>
internal sealed class ResponseHeaderOptions
{
    public const string Section = "Sidecar:ResponseHeaders";

    /// <summary>Echo a valid client <c>X-Request-Id</c>, else generate one; it is the request log's <c>RequestId</c>.</summary>
    public bool RequestId { get; set; } = true;

    /// <summary><c>Server-Timing: sidecar;dur=…, upstream;dur=…</c> (milliseconds until the headers were sent).</summary>
    public bool ServerTiming { get; set; } = true;

    /// <summary>
    /// Opt-in <c>x-sidecar-cost-usd</c>: the answer's cost as accounted. A non-streamed answer is held until complete
    /// (at most <see cref="MaxHeldBytes"/>) so the header can carry it; a streamed answer does not carry it.
    /// </summary>
    public bool CostUsd { get; set; }

    /// <summary>The most a non-streamed answer is held for <see cref="CostUsd"/>; a larger one goes out without the header.</summary>
    public int MaxHeldBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary><c>X-Frame-Options</c> value on every answer (gateway mode: <c>DENY</c>); empty for none.</summary>
    public string FrameOptions { get; set; } = string.Empty;

    /// <summary>
    /// <c>Cache-Control: no-store</c> on answers that carry no <c>Cache-Control</c> of their own and were not served from
    /// or stored in the response cache (gateway mode: true).
    /// </summary>
    public bool NoStore { get; set; }
}
