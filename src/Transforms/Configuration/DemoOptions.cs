namespace InferenceSidecar.Configuration;

/// <summary>
/// <c>Sidecar:Demo</c>: a built-in OpenAI- and Anthropic-compatible demo upstream and a <c>demo</c> route to it, for a
/// first run with no keys and no network. Only ever enabled in <c>appsettings.Development.json</c>; refused in Production.
/// </summary>
internal sealed class DemoOptions
{
    public bool Enabled { get; set; }
}
