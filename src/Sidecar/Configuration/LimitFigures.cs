using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>One tier's (or one model's) limits. <c>0</c> means unlimited; an unset figure inherits (model → tier).</summary>
internal sealed class LimitFigures
{
    [Range(0, double.MaxValue, ErrorMessage = "RequestsPerMinute must be 0 (unlimited) or more.")]
    public double? RequestsPerMinute { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerMinute must be 0 (unlimited) or more.")]
    public double? TokensPerMinute { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "TokensPerDay must be 0 (unlimited) or more.")]
    public double? TokensPerDay { get; set; }

    [Range(0, double.MaxValue, ErrorMessage = "CostPerDay must be 0 (unlimited) or more.")]
    public double? CostPerDay { get; set; }
}
