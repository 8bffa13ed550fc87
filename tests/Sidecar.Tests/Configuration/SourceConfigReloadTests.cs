using System.Text.Json.Nodes;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Hosting;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace InferenceSidecar.Tests.Configuration;

/// <summary>
/// Under <c>dotnet run</c> (a dev build, Development) the sidecar reads and watches the repo-root appsettings files the
/// README tells the user to edit, not their copies under <c>bin/</c> (issue 15).
/// </summary>
public sealed class SourceConfigReloadTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InferenceSidecar.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repo root not found above " + AppContext.BaseDirectory);
    }

    private static string? WatchedRoot(IConfigurationBuilder configuration, string file) =>
        configuration.Sources.OfType<JsonConfigurationSource>().Where(s => s.Path == file)
            .Select(s => (s.FileProvider as PhysicalFileProvider)?.Root).LastOrDefault();

    [Fact]
    public async Task Create_DevBuildInDevelopment_WatchesTheRepoRootFilesNotTheBinCopies()
    {
        var root = Path.TrimEndingDirectorySeparator(RepoRoot());
        string? watched = null, watchedDevelopment = null;
        bool reload = false;

        await using var app = SidecarApplication.Create(["--environment=Development"], builder =>
        {
            watched = WatchedRoot(builder.Configuration, "appsettings.json");
            watchedDevelopment = WatchedRoot(builder.Configuration, "appsettings.Development.json");
            reload = ((IConfigurationBuilder)builder.Configuration).Sources.OfType<JsonConfigurationSource>()
                .Where(s => s.Path == "appsettings.json").All(s => s.ReloadOnChange);
        });

        Assert.Equal(root, SidecarApplication.SourceConfigDirectory);
        Assert.Equal(root, Path.TrimEndingDirectorySeparator(watched!));
        Assert.Equal(root, Path.TrimEndingDirectorySeparator(watchedDevelopment!));
        Assert.True(reload);
        Assert.DoesNotContain(Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar, watched + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EditSourceAppsettings_Development_NewRouteServesWithoutRestart()
    {
        // Arrange: a copy of the repo root's two files (what `dotnet run` reads), plus a route to a fake upstream.
        var dir = Directory.CreateTempSubdirectory("sidecar-source").FullName;
        using var keys = new ProviderKeys();
        await using var fake = await FakeProviderServer.StartAsync();
        try
        {
            File.Copy(Path.Combine(RepoRoot(), "appsettings.Development.json"), Path.Combine(dir, "appsettings.Development.json"));
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "appsettings.json")))!.AsObject();
            void Route(string prefix)
            {
                var proxy = config["ReverseProxy"]!.AsObject();
                proxy["Routes"]!.AsObject()["mine"] = new JsonObject
                {
                    ["ClusterId"] = "mine",
                    ["Match"] = new JsonObject { ["Path"] = prefix + "/{**catch-all}" },
                    ["Transforms"] = new JsonArray(new JsonObject { ["PathRemovePrefix"] = prefix }),
                };
                proxy["Clusters"]!.AsObject()["mine"] = new JsonObject
                {
                    ["Metadata"] = new JsonObject { ["Provider"] = "OpenAI", ["ApiKey"] = keys.OpenAIReference },
                    ["Destinations"] = new JsonObject { ["primary"] = new JsonObject { ["Address"] = fake.BaseAddress.ToString() } },
                };
                File.WriteAllText(Path.Combine(dir, "appsettings.json"), config.ToJsonString());
            }

            Route("/first");
            await using var sidecar = await SidecarInstance.StartAsync(
                new Dictionary<string, string?>(), environment: "Development", configure: b => SidecarApplication.WatchConfigFilesIn(b, dir));
            async Task<int> StatusAsync(string prefix) =>
                (await Http.SendAsync(sidecar.Client, Http.Post(prefix + "/v1/chat/completions", Http.ChatBody))).Status;
            Assert.Equal(200, await StatusAsync("first"));

            // Act: the user edits the file.
            Route("/second");
            var served = false;
            for (var i = 0; i < 100 && !served; i++)
            {
                served = await StatusAsync("second") == 200;
                if (!served)
                {
                    await Task.Delay(100);
                }
            }

            // Assert
            Assert.True(served, "the edited route never served");
            Assert.Equal(404, await StatusAsync("first"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
