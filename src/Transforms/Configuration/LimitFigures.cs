using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>
/// One tier's (or one model's) limits. <c>0</c> means unlimited; an unset figure inherits (model → tier). Each
/// per-minute and per-hour figure is a token bucket refilling at figure ÷ window; its <c>…Burst</c> is the bucket's
/// capacity (unset or 0: the figure itself) and comes from the same level (model or tier) as the figure it belongs to.
/// </summary>
internal sealed class LimitFigures
{
    [Range(0, double.MaxValue, ErrorMessage = "RequestsPerMinute must be 0 (unlimited) or more.")]
    public double? RequestsPerMinute { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "RequestsPerMinuteBurst must be 0 (the figure) or more.")]
    public double? RequestsPerMinuteBurst { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "RequestsPerHour must be 0 (unlimited) or more.")]
    public double? RequestsPerHour { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "RequestsPerHourBurst must be 0 (the figure) or more.")]
    public double? RequestsPerHourBurst { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerMinute must be 0 (unlimited) or more.")]
    public double? TokensPerMinute { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerMinuteBurst must be 0 (the figure) or more.")]
    public double? TokensPerMinuteBurst { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerHour must be 0 (unlimited) or more.")]
    public double? TokensPerHour { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerHourBurst must be 0 (the figure) or more.")]
    public double? TokensPerHourBurst { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerDay must be 0 (unlimited) or more.")]
    public double? TokensPerDay { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "CostPerDay must be 0 (unlimited) or more.")]
    public double? CostPerDay { get; set; }
}
