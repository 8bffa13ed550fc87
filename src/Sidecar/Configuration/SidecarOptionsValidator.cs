using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Configuration;

/// <summary>
/// Validates <see cref="SidecarOptions"/> recursively (data annotations on every nested object) plus the rules
/// annotations cannot say. Messages name the configuration key, never a value that could be a secret.
/// Only the default-named instance is validated by the options pipeline (at start); the live instance is validated by
/// <see cref="LiveOptions{T}"/>, which keeps the last good value instead of throwing on a bad reload.
/// </summary>
internal sealed partial class SidecarOptionsValidator(IHostEnvironment environment) : IValidateOptions<SidecarOptions>
{
    public ValidateOptionsResult Validate(string? name, SidecarOptions options)
    {
        if (name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var errors = new List<string>();
        Annotate(options, errors);
        Annotate(options.Identity, errors);
        Annotate(options.RateLimits, errors);
        Annotate(options.RateLimits.Queue, errors);
        Annotate(options.Cache, errors);
        Annotate(options.Usage, errors);
        if (!Transforms.Keys.SecretReference.TryParse(options.Admin.Token, out _, out var adminError))
        {
            errors.Add($"Sidecar:Admin:Token: {adminError}");
        }
        foreach (var (tier, figures) in options.RateLimits.Tiers)
        {
            Annotate(figures, errors, $"Sidecar:RateLimits:Tiers:{tier}:");
        }

        foreach (var (model, figures) in options.RateLimits.Models)
        {
            Annotate(figures, errors, $"Sidecar:RateLimits:Models:{model}:");
        }

        foreach (var (model, price) in options.Pricing.Models)
        {
            Annotate(price, errors, $"Sidecar:Pricing:Models:{model}:");
        }

        if (options.Pricing.DefaultPrice is { } defaultPrice)
        {
            Annotate(defaultPrice, errors, "Sidecar:Pricing:DefaultPrice:");
        }
        else if (options.Pricing.Unpriced == UnpricedPolicy.Charge)
        {
            errors.Add("Sidecar:Pricing:DefaultPrice is required when Sidecar:Pricing:Unpriced is Charge.");
        }

        for (var i = 0; i < options.ClientKeys.Count; i++)
        {
            var key = options.ClientKeys[i];
            if (string.IsNullOrWhiteSpace(key.Key))
            {
                errors.Add($"Sidecar:ClientKeys:{i}:Key is required.");
            }
            else if (IsReference(key.Key) && !Transforms.Keys.SecretReference.TryParse(key.Key, out _, out var error))
            {
                errors.Add($"Sidecar:ClientKeys:{i}:Key {error}.");
            }

            if (!UserIdPattern().IsMatch(key.UserId))
            {
                errors.Add($"Sidecar:ClientKeys:{i}:UserId must be 1-128 of A-Z a-z 0-9 . _ @ : -.");
            }
        }

        for (var i = 0; i < options.Redaction.Custom.Count; i++)
        {
            var custom = options.Redaction.Custom[i];
            if (!DetectorName().IsMatch(custom.Name))
            {
                errors.Add($"Sidecar:Redaction:Custom:{i}:Name must be 1-40 of a-z 0-9 _.");
            }

            try
            {
                _ = new Regex(custom.Pattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
                if (custom.Pattern.Length == 0)
                {
                    errors.Add($"Sidecar:Redaction:Custom:{i}:Pattern must not be empty.");
                }
            }
            catch (ArgumentException)
            {
                errors.Add($"Sidecar:Redaction:Custom:{i}:Pattern is not a valid regular expression.");
            }
        }

        foreach (var (user, settings) in options.Users)
        {
            if (string.IsNullOrWhiteSpace(settings.Tier))
            {
                errors.Add($"Sidecar:Users:{user}:Tier must not be empty.");
            }
        }

        errors.AddRange(options.ModelPolicy.Validate());

        if (options.Demo.Enabled && environment.IsProduction())
        {
            errors.Add("Sidecar:Demo:Enabled must not be true in Production (the demo upstream is for first runs only).");
        }
        else if (options.Demo.Enabled && !Demo.DemoUpstream.Available)
        {
            errors.Add("Sidecar:Demo:Enabled needs a dev build (Debug, as `dotnet run --project src/Sidecar` builds it); this build carries no demo upstream.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static bool IsReference(string key) =>
        key.StartsWith("env:", StringComparison.OrdinalIgnoreCase) || key.StartsWith("file:", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z0-9._@:-]{1,128}$")]
    internal static partial Regex UserIdPattern();

    [GeneratedRegex("^[a-z0-9_]{1,40}$")]
    private static partial Regex DetectorName();

    /// <summary>
    /// The data annotations on <typeparamref name="T"/>'s public properties, each message prefixed, as
    /// <c>Validator.TryValidateObject(validateAllProperties: true)</c> reported them. That method discovers the type at
    /// run time and is not trim-safe (IL2026); here the type is static and its properties are kept for reflection
    /// (<see cref="DynamicallyAccessedMembersAttribute"/>), so the NativeAOT build validates exactly as the JIT build.
    /// A failed <see cref="RequiredAttribute"/> hides the property's other failures, as there.
    /// </summary>
    private static void Annotate<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(T instance, List<string> errors, string prefix = "")
        where T : class
    {
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var attributes = property.GetCustomAttributes<ValidationAttribute>(inherit: true).OrderBy(a => a is RequiredAttribute ? 0 : 1).ToList();
            if (attributes.Count == 0)
            {
                continue;
            }

            var value = property.GetValue(instance);
            foreach (var attribute in attributes)
            {
                if (!attribute.IsValid(value))
                {
                    errors.Add(prefix + attribute.FormatErrorMessage(property.Name));
                    if (attribute is RequiredAttribute)
                    {
                        break;
                    }
                }
            }
        }
    }
}
