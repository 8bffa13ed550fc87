namespace InferenceSidecar.Providers;

/// <summary>The wire dialect of an upstream; it decides how the key is sent and how errors look.</summary>
internal enum ProviderKind
{
    /// <summary>OpenAI and every OpenAI-compatible server (vLLM, Ollama, LM Studio, ...): <c>Authorization: Bearer</c>.</summary>
    OpenAI,

    /// <summary>Anthropic Messages API: <c>x-api-key</c> plus a default <c>anthropic-version</c>.</summary>
    Anthropic,

    /// <summary>Azure OpenAI: <c>api-key</c>; OpenAI error dialect.</summary>
    AzureOpenAI,
}
