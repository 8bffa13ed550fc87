namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Provider keys written to files in a temp folder (as a mounted Kubernetes secret would be).</summary>
internal sealed class ProviderKeys : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sidecar-keys").FullName;

    public ProviderKeys(string openAIKey = "sk-test-openai-injected-0001", string anthropicKey = "sk-ant-test-injected-0002")
    {
        OpenAIKey = openAIKey;
        AnthropicKey = anthropicKey;
        File.WriteAllText(OpenAIPath, openAIKey);
        File.WriteAllText(AnthropicPath, anthropicKey);
        File.WriteAllText(AdminPath, AdminToken);
    }

    /// <summary>The admin API bearer token (<c>Sidecar:Admin:Token</c> = <see cref="AdminReference"/>).</summary>
    public string AdminToken { get; } = "admin-token-" + Guid.NewGuid().ToString("N");

    public string AdminPath => Path.Combine(_dir, "admin");

    public string AdminReference => "file:" + AdminPath;

    public string OpenAIKey { get; }

    public string AnthropicKey { get; }

    public string OpenAIPath => Path.Combine(_dir, "openai");

    public string AnthropicPath => Path.Combine(_dir, "anthropic");

    public string OpenAIReference => "file:" + OpenAIPath;

    public string AnthropicReference => "file:" + AnthropicPath;

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
