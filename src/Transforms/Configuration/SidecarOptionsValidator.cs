using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Configuration;

/// <summary>
/// The data annotations of <see cref="SidecarOptions"/> and its nested sections (<c>[ValidateObjectMembers]</c>), checked
/// by code the options source generator writes at build time (no reflection). Messages name the configuration key.
/// </summary>
[OptionsValidator]
internal sealed partial class SidecarOptionsAnnotations : IValidateOptions<SidecarOptions>;

/// <summary>The data annotations of one tier's or model's limit figures (generated), prefixed with its key by <see cref="SidecarOptionsValidator"/>.</summary>
[OptionsValidator]
internal sealed partial class LimitFiguresAnnotations : IValidateOptions<LimitFigures>;

/// <summary>The data annotations of one model's price (generated), prefixed with its key by <see cref="SidecarOptionsValidator"/>.</summary>
[OptionsValidator]
internal sealed partial class ModelPriceAnnotations : IValidateOptions<ModelPrice>;

/// <summary>
/// Validates what annotations cannot say about <see cref="SidecarOptions"/> (the annotations themselves are checked by
/// the generated <see cref="SidecarOptionsAnnotations"/>): every dictionary entry's annotations with its key, secret
/// references, client keys, custom detectors, cross-field rules. Messages name the configuration key, never a value
/// that could be a secret.
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
        Prefix(Annotations.Validate(name, options), errors, "Sidecar:");
        if (!Keys.SecretReference.TryParse(options.Admin.Token, out _, out var adminError))
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
            else if (IsReference(key.Key) && !Keys.SecretReference.TryParse(key.Key, out _, out var error))
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

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static bool IsReference(string key) =>
        key.StartsWith("env:", StringComparison.OrdinalIgnoreCase) || key.StartsWith("file:", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z0-9._@:-]{1,128}$")]
    internal static partial Regex UserIdPattern();

    [GeneratedRegex("^[a-z0-9_]{1,40}$")]
    private static partial Regex DetectorName();

    private static readonly SidecarOptionsAnnotations Annotations = new();
    private static readonly LimitFiguresAnnotations Figures = new();
    private static readonly ModelPriceAnnotations Prices = new();

    private static void Annotate(LimitFigures figures, List<string> errors, string prefix) => Prefix(Figures.Validate(null, figures), errors, prefix);

    private static void Annotate(ModelPrice price, List<string> errors, string prefix) => Prefix(Prices.Validate(null, price), errors, prefix);

    /// <summary>
    /// The generated validator reports <c>Member: message</c>, and for an annotation without its own message <c>The field
    /// Type.Path must …</c>: each becomes a message that starts with the configuration key.
    /// </summary>
    private static void Prefix(ValidateOptionsResult result, List<string> errors, string prefix)
    {
        if (!result.Failed)
        {
            return;
        }

        foreach (var failure in result.Failures)
        {
            var message = GeneratedFailure().Match(failure) is { Success: true } match ? match.Groups["message"].Value : failure;
            message = DefaultMessage().Replace(message, m => prefix + m.Groups["path"].Value.Replace('.', ':') + " ");
            errors.Add(message.StartsWith("Sidecar:", StringComparison.Ordinal) ? message : prefix + message);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_]+: (?<message>.*)$")]
    private static partial Regex GeneratedFailure();

    [GeneratedRegex(@"^The field [A-Za-z]+\.(?<path>[A-Za-z0-9_.]+) ")]
    private static partial Regex DefaultMessage();
}
