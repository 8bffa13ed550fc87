using System.Text.RegularExpressions;

namespace InferenceSidecar.Tests.Proxy;

/// <summary>docs/architecture.md's request flow is the pipeline the code builds: same steps, same order.</summary>
public sealed partial class ArchitectureDocTests
{
    [Fact]
    public void RequestFlow_DocumentedProxySteps_MatchUseSidecarProxyInOrder()
    {
        // Arrange
        var root = RepoRoot();
        var code = File.ReadAllText(Path.Combine(root, "src", "Transforms", "Proxy", "ProxyServiceCollectionExtensions.cs"));
        var doc = File.ReadAllText(Path.Combine(root, "docs", "architecture.md"));
        var start = doc.IndexOf("the proxy pipeline (MapReverseProxy", StringComparison.Ordinal);
        var end = doc.IndexOf("UseLoadBalancing", start, StringComparison.Ordinal);

        // Act
        var built = CodeStep().Matches(code).Select(m => m.Groups[1].Value).ToArray();
        var documented = DocStep().Matches(doc[start..end]).Select(m => m.Groups[1].Value).ToArray();

        // Assert
        Assert.True(built.Length >= 15, "UseMiddleware calls not found in the code: " + built.Length);
        Assert.Equal(built, documented);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InferenceSidecar.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("InferenceSidecar.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"UseMiddleware<(?:\w+\.)*(\w+)>\(\)")]
    private static partial Regex CodeStep();

    [GeneratedRegex(@"^\s+\S{1,2}\s+(\w+Middleware)\b", RegexOptions.Multiline)]
    private static partial Regex DocStep();
}
