namespace InferenceSidecar.Providers;

/// <summary>What a request body on an endpoint is.</summary>
internal enum EndpointBody
{
    /// <summary>No body expected (listings, retrievals). A body that is sent anyway must parse as JSON and is checked like one.</summary>
    None,

    /// <summary>A JSON object, read and checked whatever the Content-Type says.</summary>
    Json,

    /// <summary><c>multipart/form-data</c> uploads (audio, images, files): size-capped and counted as requests, not parsed.</summary>
    Multipart,
}

/// <summary>How an endpoint draws on the limits.</summary>
internal enum EndpointAccounting
{
    /// <summary>Not limited, not accounted (model listings).</summary>
    None,

    /// <summary>Counts against the request-per-minute bucket only; no tokens, no spend, no usage row.</summary>
    Requests,

    /// <summary>Reserves tokens and spend before forwarding and reconciles with the provider's usage; a usage row.</summary>
    Tokens,
}

/// <summary>The SSE dialect of an endpoint's stream: which events carry usage, which event ends a complete stream.</summary>
internal enum StreamShape
{
    /// <summary>The endpoint does not stream.</summary>
    None,

    /// <summary>
    /// OpenAI chat and legacy completions: <c>data: {chunk}</c> events; usage in the last chunk (<c>choices: []</c>) only
    /// when <c>stream_options.include_usage</c> is set; complete at <c>data: [DONE]</c>.
    /// </summary>
    OpenAIChunks,

    /// <summary>
    /// OpenAI Responses: typed events; usage in <c>response.usage</c> of <c>response.completed</c>,
    /// <c>response.incomplete</c> and <c>response.failed</c>; text in the <c>delta</c> of <c>*.delta</c> events; complete at
    /// <c>response.completed</c> or <c>response.incomplete</c> (a failed response is never cached). No <c>[DONE]</c>.
    /// </summary>
    ResponsesEvents,

    /// <summary>
    /// Anthropic Messages: input (and cache) tokens in <c>message_start.message.usage</c>, output in
    /// <c>message_delta.usage</c>; complete at <c>message_stop</c>.
    /// </summary>
    AnthropicEvents,
}

/// <summary>
/// One row of the endpoint model: what the sidecar does with a request to (provider kind, path pattern).
/// </summary>
/// <param name="Name">Bounded label for metrics and docs (<c>chat_completions</c>, <c>responses</c>, ..., <c>unknown</c>).</param>
/// <param name="Body">What the request body is.</param>
/// <param name="Accounting">How the request draws on the limits.</param>
/// <param name="Stream">The stream's dialect when the request sets <c>stream: true</c>.</param>
/// <param name="InjectIncludeUsage">
/// The sidecar may add <c>stream_options.include_usage</c> to a streamed request (and strip the extra chunk on the way
/// back). Never on Responses, Anthropic or embeddings: those APIs refuse the field; per cluster it can be switched off.
/// </param>
/// <param name="ChoiceFields">Request fields that multiply the output (<c>n</c>, <c>best_of</c>): the output reservation is scaled by the largest.</param>
/// <param name="Usage">Where the provider reports usage (documentation; the accumulator reads <c>usage</c> objects wherever they sit).</param>
internal sealed record EndpointDescriptor(
    string Name,
    EndpointBody Body,
    EndpointAccounting Accounting,
    StreamShape Stream,
    bool InjectIncludeUsage,
    string[] ChoiceFields,
    string Usage)
{
    /// <summary>A path on a provider route that matches no known endpoint (route policy <c>UnknownEndpoints</c>).</summary>
    public static readonly EndpointDescriptor Unknown = new("unknown", EndpointBody.None, EndpointAccounting.Requests, StreamShape.None, false, [], "none");

    public bool IsUnknown => ReferenceEquals(this, Unknown);
}
