using InferenceSidecar.Keys;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Transforms.Tests.Keys;

public sealed class SecretResolverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sidecar-secrets").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TryResolve_FileRewritten_NewValueAfterRefreshInterval()
    {
        // Arrange
        var path = Path.Combine(_dir, "key");
        File.WriteAllText(path, "first-key\n");
        var time = new FakeTimeProvider();
        var resolver = new SecretResolver(time, NullLogger<SecretResolver>.Instance);

        // Act
        resolver.TryResolve("file:" + path, out var first);
        File.WriteAllText(path, "second-key");
        resolver.TryResolve("file:" + path, out var cached);
        time.Advance(TimeSpan.FromSeconds(1.5));
        resolver.TryResolve("file:" + path, out var rotated);

        // Assert
        Assert.Equal("first-key", first);
        Assert.Equal("first-key", cached);
        Assert.Equal("second-key", rotated);
    }

    [Fact]
    public void TryResolve_MissingVariableThenSet_BecomesAvailable()
    {
        var name = "SIDECAR_TEST_" + Guid.NewGuid().ToString("N");
        var time = new FakeTimeProvider();
        var resolver = new SecretResolver(time, NullLogger<SecretResolver>.Instance);

        var before = resolver.TryResolve("env:" + name, out _);
        Environment.SetEnvironmentVariable(name, "value-1");
        time.Advance(TimeSpan.FromSeconds(2));
        var after = resolver.TryResolve("env:" + name, out var value);
        Environment.SetEnvironmentVariable(name, null);

        Assert.False(before);
        Assert.True(after);
        Assert.Equal("value-1", value);
    }

    [Theory]
    [InlineData("sk-literal-key")]
    [InlineData("env:")]
    [InlineData("")]
    public void TryParse_NotAReference_FailsWithoutEchoingValue(string text)
    {
        var ok = SecretReference.TryParse(text, out _, out var error);

        Assert.False(ok);
        Assert.DoesNotContain("sk-literal", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryResolve_None_ResolvesToEmpty()
    {
        var resolver = new SecretResolver(new FakeTimeProvider(), NullLogger<SecretResolver>.Instance);

        Assert.True(resolver.TryResolve("none", out var value));
        Assert.Equal(string.Empty, value);
    }
}
