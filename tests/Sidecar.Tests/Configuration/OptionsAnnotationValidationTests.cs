using InferenceSidecar.Configuration;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Tests.Configuration;

/// <summary>
/// The data annotations on the options types, read without Validator.TryValidateObject (not trim-safe): every failure
/// still names its configuration key with the attribute's own message, nested sections and dictionaries included.
/// </summary>
public sealed class OptionsAnnotationValidationTests
{
    private static SidecarOptionsValidator Validator() => new(new HostingEnvironment { EnvironmentName = "Production" });

    [Fact]
    public void Validate_Defaults_Succeeds()
    {
        var result = Validator().Validate(Options.DefaultName, new SidecarOptions());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Validate_OutOfRangeValuesEverywhere_NamesEachKeyWithItsMessage()
    {
        var options = new SidecarOptions { MaxConcurrentRequests = -3 };
        options.Identity.UserHeader = "";
        options.Cache.RedisTimeout = TimeSpan.FromMinutes(1);
        options.Usage.FlushInterval = TimeSpan.FromMilliseconds(1);
        options.RateLimits.Tiers["default"] = new LimitFigures { TokensPerMinute = -1 };
        options.Pricing.Models["m"] = new ModelPrice { OutputPerMillion = 2_000_000 };

        var result = Validator().Validate(Options.DefaultName, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Contains("Sidecar:MaxConcurrentRequests must be between 0 and 1000000.", failures);
        Assert.Contains("Sidecar:Identity:UserHeader must name a header.", failures);
        Assert.Contains("Sidecar:Cache:RedisTimeout must be between 1 ms and 10 s.", failures);
        Assert.Contains("Sidecar:Usage:FlushInterval must be between 10 ms and 10 min.", failures);
        Assert.Contains("Sidecar:RateLimits:Tiers:default:TokensPerMinute must be 0 (unlimited) or more.", failures);
        Assert.Contains("Sidecar:Pricing:Models:m:OutputPerMillion must be between 0 and 1000000.", failures);
        // A failed [Required] hides the property's other checks, as Validator.TryValidateObject did.
        Assert.DoesNotContain(failures, f => f.Contains("must be a header name", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_TimeSpansAtTheirBounds_Succeeds()
    {
        var options = new SidecarOptions();
        options.Cache.RedisTimeout = TimeSpan.FromSeconds(10);
        options.RateLimits.RedisTimeout = TimeSpan.FromMilliseconds(1);
        options.Usage.FlushInterval = TimeSpan.FromMinutes(10);

        var result = Validator().Validate(Options.DefaultName, options);

        Assert.True(result.Succeeded, result.FailureMessage);
    }
}
