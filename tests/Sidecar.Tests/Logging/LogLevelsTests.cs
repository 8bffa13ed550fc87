using InferenceSidecar.Logging;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace InferenceSidecar.Tests.Logging;

/// <summary>Serilog's levels read in code (LogLevels), in place of Serilog.Settings.Configuration (not AOT-safe).</summary>
public sealed class LogLevelsTests
{
    private static IConfigurationRoot Config(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();

    private static bool Enabled(Logger logger, string category, LogEventLevel level) =>
        logger.ForContext(Constants.SourceContextPropertyName, category).IsEnabled(level);

    [Fact]
    public void ConfigureLevels_DefaultAndOverrides_ApplyPerCategory()
    {
        var config = Config(("Serilog:MinimumLevel:Default", "Debug"), ("Serilog:MinimumLevel:Override:Yarp", "Warning"));

        using var logger = new LoggerConfiguration().ConfigureLevels(config).CreateLogger();

        Assert.True(Enabled(logger, "InferenceSidecar.Requests", LogEventLevel.Debug));
        Assert.False(Enabled(logger, "InferenceSidecar.Requests", LogEventLevel.Verbose));
        Assert.False(Enabled(logger, "Yarp.ReverseProxy.Forwarder", LogEventLevel.Information));
        Assert.True(Enabled(logger, "Yarp.ReverseProxy.Forwarder", LogEventLevel.Warning));
    }

    [Fact]
    public void ConfigureLevels_ScalarSectionAndNoSection_MeanThatLevelAndInformation()
    {
        using var scalar = new LoggerConfiguration().ConfigureLevels(Config(("Serilog:MinimumLevel", "error"))).CreateLogger();
        using var none = new LoggerConfiguration().ConfigureLevels(Config()).CreateLogger();

        Assert.False(Enabled(scalar, "X", LogEventLevel.Warning));
        Assert.True(Enabled(scalar, "X", LogEventLevel.Error));
        Assert.True(Enabled(none, "X", LogEventLevel.Information));
        Assert.False(Enabled(none, "X", LogEventLevel.Debug));
    }

    [Fact]
    public void ConfigureLevels_Reload_ChangesDefaultAndOverrideLevels()
    {
        var config = Config(("Serilog:MinimumLevel:Default", "Information"), ("Serilog:MinimumLevel:Override:Yarp", "Warning"));
        using var logger = new LoggerConfiguration().ConfigureLevels(config).CreateLogger();

        config["Serilog:MinimumLevel:Default"] = "Error";
        config["Serilog:MinimumLevel:Override:Yarp"] = "Debug";
        config.Reload();

        Assert.False(Enabled(logger, "InferenceSidecar.Requests", LogEventLevel.Warning));
        Assert.True(Enabled(logger, "Yarp.ReverseProxy", LogEventLevel.Debug));
    }

    [Fact]
    public void ConfigureLevels_UnknownLevel_FailsNamingTheKey()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new LoggerConfiguration().ConfigureLevels(Config(("Serilog:MinimumLevel:Override:Yarp", "Loud"))));

        Assert.Contains("Serilog:MinimumLevel:Override:Yarp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigureLevels_WriteToSection_FailsInsteadOfBeingIgnored()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new LoggerConfiguration().ConfigureLevels(Config(("Serilog:WriteTo:0:Name", "File"))));

        Assert.Contains("Serilog:WriteTo", error.Message, StringComparison.Ordinal);
    }
}
