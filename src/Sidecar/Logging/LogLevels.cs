using Microsoft.Extensions.Primitives;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace InferenceSidecar.Logging;

/// <summary>
/// The <c>Serilog:MinimumLevel</c> section, read in code: <c>Default</c> (or the section's own value) and
/// <c>Override:&lt;category&gt;</c>, each a level switch that follows configuration reloads, as Serilog's configuration
/// reader did. That reader (Serilog.Settings.Configuration, <c>ReadFrom.Configuration</c>) finds sinks and enrichers by
/// scanning assemblies and calling methods by reflection, which NativeAOT cannot do (trim warnings IL2026/IL2104, AOT
/// IL3050/IL3053, single-file IL3000/IL3002), so the sidecar no longer uses it. Its other sections (<c>Using</c>,
/// <c>WriteTo</c>, <c>Enrich</c>, <c>Filter</c>, ...) were never documented; a configuration that has one fails at start
/// rather than being silently ignored, and so does a level that is not a Serilog level name.
/// </summary>
internal static class LogLevels
{
    public const string Section = "Serilog:MinimumLevel";

    /// <summary>Serilog sections the sidecar does not read: their presence is a start-up error.</summary>
    public static readonly string[] IgnoredSections = ["Using", "WriteTo", "Enrich", "Filter", "Destructure", "AuditTo", "LevelSwitches", "Properties"];

    /// <summary>Applies the levels to <paramref name="logger"/> and keeps them in step with <paramref name="configuration"/>.</summary>
    public static LoggerConfiguration ConfigureLevels(this LoggerConfiguration logger, IConfiguration configuration)
    {
        if (IgnoredSections.FirstOrDefault(name => configuration.GetSection("Serilog:" + name).Exists()) is { } ignored)
        {
            throw new InvalidOperationException(
                $"Serilog:{ignored} is not supported: the sidecar reads only Serilog:MinimumLevel (Default and Override:<category>); see docs/aot.md.");
        }

        var section = configuration.GetSection(Section);
        var defaultPath = section.Value is null ? section.Path + ":Default" : section.Path;
        var defaultSwitch = new LoggingLevelSwitch(ParseAtStart(DefaultValue(section), defaultPath, LogEventLevel.Information));
        logger.MinimumLevel.ControlledBy(defaultSwitch);
        ChangeToken.OnChange(section.GetReloadToken, () => defaultSwitch.MinimumLevel = Parse(DefaultValue(section), LogEventLevel.Information));
        foreach (var child in section.GetSection("Override").GetChildren())
        {
            // An override's level is live; a category added by a reload takes effect at the next start.
            var category = child.Key;
            var overrideSwitch = new LoggingLevelSwitch(ParseAtStart(child.Value, child.Path, defaultSwitch.MinimumLevel));
            logger.MinimumLevel.Override(category, overrideSwitch);
            var path = child.Path;
            ChangeToken.OnChange(section.GetReloadToken, () =>
            {
                if (configuration[path] is { } value)
                {
                    overrideSwitch.MinimumLevel = Parse(value, overrideSwitch.MinimumLevel);
                }
            });
        }

        return logger;
    }

    private static string? DefaultValue(IConfigurationSection section) => section.Value ?? section["Default"];

    private static LogEventLevel ParseAtStart(string? value, string path, LogEventLevel fallback) =>
        string.IsNullOrEmpty(value) ? fallback
        : TryParse(value, out var level) ? level
        : throw new InvalidOperationException($"{path} must be one of Verbose, Debug, Information, Warning, Error, Fatal.");

    private static bool TryParse(string value, out LogEventLevel level) =>
        Enum.TryParse(value, ignoreCase: true, out level) && Enum.IsDefined(level);

    /// <summary>A Serilog level name (<c>Verbose</c> … <c>Fatal</c>, case-insensitive); anything else keeps <paramref name="fallback"/>.</summary>
    internal static LogEventLevel Parse(string? value, LogEventLevel fallback) =>
        value is not null && TryParse(value, out var level) ? level : fallback;
}
