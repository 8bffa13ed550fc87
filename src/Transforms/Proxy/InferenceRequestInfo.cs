namespace InferenceSidecar.Proxy;

/// <summary>What the sidecar reads from a JSON inference request body.</summary>
/// <param name="Model">Top-level <c>model</c>.</param>
/// <param name="Stream">Top-level <c>stream: true</c>.</param>
/// <param name="MaxOutputTokens"><c>max_tokens</c>, <c>max_completion_tokens</c> or <c>max_output_tokens</c>.</param>
/// <param name="PromptBytes">UTF-8 bytes of every string under <c>messages</c>, <c>system</c>, <c>tools</c>, <c>functions</c>, <c>prompt</c>, <c>input</c>, <c>instructions</c>, except base64/URL payloads.</param>
/// <param name="HasStreamOptions">A <c>stream_options</c> member is present.</param>
/// <param name="IncludeUsage"><c>stream_options.include_usage</c> is true.</param>
/// <param name="MaxOutputField">Which of the output-cap fields the request used, if any.</param>
/// <param name="Choices">The largest of <c>n</c> and <c>best_of</c> (1 when absent): outputs the provider generates per request.</param>
internal readonly record struct InferenceRequestInfo(
    string? Model,
    bool Stream,
    int? MaxOutputTokens = null,
    long PromptBytes = 0,
    bool HasStreamOptions = false,
    bool IncludeUsage = false,
    string? MaxOutputField = null,
    int Choices = 1)
{
    /// <summary>
    /// The documented estimator: one token per four UTF-8 bytes of prompt text, rounded up, at least one. It reads the
    /// same text the provider tokenizes (plus role names), so it tends to over-reserve slightly; reconciliation with
    /// the provider's real usage corrects it after the response.
    /// </summary>
    public long EstimatedInputTokens => Math.Max(1, (PromptBytes + 3) / 4);

    /// <summary>Where the <c>model</c> string token sits in the parsed body (quotes included); Start -1 when absent.</summary>
    public (int Start, int Length) ModelToken { get; init; } = (-1, 0);

    /// <summary>Where the output-cap number (or null) sits in the parsed body; Start -1 when absent.</summary>
    public (int Start, int Length) MaxOutputToken { get; init; } = (-1, 0);

    /// <summary>Where the root object's opening brace sits in the parsed body (members are added after it).</summary>
    public int RootStart { get; init; }

    /// <summary>Where the whole <c>stream_options</c> value sits in the parsed body; Start -1 when absent.</summary>
    public (int Start, int Length) StreamOptionsValue { get; init; } = (-1, 0);

    /// <summary>Where the whole <c>stream_options.include_usage</c> value sits in the parsed body; Start -1 when absent.</summary>
    public (int Start, int Length) IncludeUsageValue { get; init; } = (-1, 0);
}
